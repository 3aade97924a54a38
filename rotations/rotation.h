// rotations/rotation.h: the rotation plugin interface (ALGORITHMS.md section 4). A rotation Q
// (orthogonal, ic x ic) maps W -> W Q (fused) and x -> x Q (online, before activation quant), so
// y = x W^T is unchanged in full precision. Implementations: none, hadamard, kotms (registry.cpp;
// the algorithms in hadamard.h and kotms.h).
#pragma once
#include <map>
#include <string>
#include <vector>

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

  // What weight()/input() need per linear beyond the config (KOTMS: its trained C and B), so a
  // packed model (experiments/packed_model.h) runs without prepare(); empty when the config alone
  // determines the rotation (none, hadamard). set_state() takes what state() gave; Error if unfit.
  virtual std::map<std::string, Tensor> state(const std::string& linear) const { return {}; }
  virtual void set_state(const std::string& linear, const std::map<std::string, Tensor>& s) {}

  // Per-linear scalars for the run's per-layer stats, after prepare() (KOTMS: l, r, loss_before,
  // loss_after, steps, seconds, ortho_err; Hadamard: n, m, fallback). Empty when there are none.
  virtual std::map<std::string, double> stats(const std::string& linear) const { return {}; }
  // Per-linear series (KOTMS: the loss before each Adam step, then after training: steps + 1).
  virtual std::vector<double> loss_curve(const std::string& linear) const { return {}; }
  // Lines for the run log about choices the user should know of (e.g. a Hadamard size that fell
  // back to a random orthogonal matrix). Empty when there is nothing to say.
  virtual std::vector<std::string> notes() const { return {}; }
};

const Registry<Rotation>& rotations();

}  // namespace twla
