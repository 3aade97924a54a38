// experiments/recording_ops.h: the calibration flow's recording pass. While a block runs
// normally, the inputs of one group of linears (e.g. {q, k, v}) are accumulated into H (and
// E2M-ATQ's S blocks), one call per sequence as the references' forward hooks see them.
// Linears of the group fed the same input in the same forward call (q/k/v, gate/up, unless the
// rotation transforms each linear's input differently, as KOTMS does) share one accumulation:
// the same sums of the same values, so the same bits, computed once instead of two or three
// times (about a quarter of the statistics work of a Llama block). Sharing is decided by
// comparing the rotated inputs (at::equal), never assumed.
// Not here: the flow itself (calibration.h), H/S math (quantizers/hessian.h).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "core/model.h"
#include "core/types.h"
#include "quantizers/hessian.h"
#include "rotations/rotation.h"

namespace twla {

class RecordingOps : public LinearOps {
 public:
  // share = false accumulates every linear on its own (tests compare both ways).
  RecordingOps(const Rotation& rot, const std::vector<std::string>& group, bool need_s, bool compat,
               bool share = true);
  Tensor linear(const std::string& name, const Tensor& x0, const Tensor& W) const override;
  // The statistics of `name` (its own tensors: a linear sharing another's sums gets copies).
  LayerStats stats(const std::string& name) const;
  // The linear whose accumulation `name` uses: itself, or an earlier linear of the group.
  const std::string& owner(const std::string& name) const;
  // How many linears of the group used another's accumulation.
  int shared() const;

 private:
  void record(const std::string& name, const Tensor& x) const;

  const Rotation& rot_;
  bool compat_, share_;
  mutable std::map<std::string, HessianAccumulator> acc_;
  mutable std::map<std::string, SBlockAccumulator> s_;
  mutable std::map<std::string, std::string> owner_;
  mutable Tensor prev_x_;            // the previous recorded linear's input ...
  mutable std::string prev_name_;    // ... and its name
};

}  // namespace twla
