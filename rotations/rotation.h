// rotations/rotation.h: the rotation plugin interface (ALGORITHMS.md section 4). A rotation Q
// (orthogonal, ic x ic) maps W -> W Q (fused) and x -> x Q (online, before activation quant), so
// y = x W^T is unchanged in full precision. Implementations: none (here), hadamard, kotms (issue 5).
#pragma once
#include "core/registry.h"
#include "core/types.h"

namespace twla {

class Rotation : public Plugin {
 public:
  // True when weight() and input() are the identity (nothing to fuse, nothing to run online).
  virtual bool is_identity() const = 0;
  // Called once per linear, in model order, before calibration; may train (KOTMS).
  virtual void prepare(const LinearRef& layer) {}
  virtual Tensor weight(const std::string& linear, const Tensor& W) const = 0;  // [oc, ic]
  virtual Tensor input(const std::string& linear, const Tensor& x) const = 0;   // [..., ic]
};

const Registry<Rotation>& rotations();

}  // namespace twla
