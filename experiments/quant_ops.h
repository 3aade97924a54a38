// experiments/quant_ops.h: how a quantized model runs one linear in the fake-quant backend:
// x -> rotation.input (online part) -> per-token activation fake-quant (bits of the linear's
// block, clip ratio of the linear) -> x W^T with the already dequantized (and rotation-fused) W.
// Not here: the packed-kernel backend (issue 8), calibration hooks (calibration.h).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "core/model.h"
#include "core/types.h"
#include "quantizers/act_quant.h"
#include "rotations/rotation.h"

namespace twla {

// "layers.12.mlp.up_proj" -> 12.
int block_of(const std::string& linear_name);

class QuantLinearOps : public LinearOps {
 public:
  QuantLinearOps(const Rotation* rotation, Allocation alloc, double default_clip,
                 bool compat_reference)
      : rot_(rotation), alloc_(std::move(alloc)), clip_(default_clip), compat_(compat_reference) {}
  Tensor linear(const std::string& name, const Tensor& x, const Tensor& W) const override;
  // True when the ops are plain x W^T (no online rotation, activations off).
  bool is_identity() const;
  // The activation grid of linear `name`: its block's bits (>= 16: off) and its clip ratio.
  AffineSpec act_spec(const std::string& name) const;

 protected:
  const Rotation* rot_;
  Allocation alloc_;
  double clip_;
  bool compat_;
};

// The rotated full-precision model under an allocation (what ILA-AMP measures on): the model's
// original weights rotated on the fly (rotation.weight), then as QuantLinearOps.
class RotatedFpOps : public QuantLinearOps {
 public:
  using QuantLinearOps::QuantLinearOps;
  Tensor linear(const std::string& name, const Tensor& x, const Tensor& W) const override;
};

}  // namespace twla
