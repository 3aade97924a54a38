// experiments/quant_ops.cpp: see quant_ops.h.
#include "experiments/quant_ops.h"

#include "core/error.h"

namespace twla {

int block_of(const std::string& name) {
  TWLA_ASSERT(name.rfind("layers.", 0) == 0, name);
  return std::stoi(name.substr(7, name.find('.', 7) - 7));
}

bool QuantLinearOps::is_identity() const {
  if (rot_ && !rot_->is_identity()) return false;
  for (int b : alloc_.act_bits)
    if (b < 16) return false;
  return true;
}

AffineSpec QuantLinearOps::act_spec(const std::string& name) const {
  const int b = block_of(name);
  auto it = alloc_.clip.find(name);
  AffineSpec spec;
  spec.bits = b < int(alloc_.act_bits.size()) ? alloc_.act_bits[size_t(b)] : 16;
  spec.clip = it == alloc_.clip.end() ? clip_ : it->second;
  spec.compat_reference = compat_;
  return spec;
}

Tensor QuantLinearOps::linear(const std::string& name, const Tensor& x0, const Tensor& W) const {
  Tensor x = rot_ ? rot_->input(name, x0) : x0;
  const AffineSpec spec = act_spec(name);
  if (spec.bits < 16) x = act_fake_quant(x, spec);
  return at::matmul(x, W.t());
}

Tensor RotatedFpOps::linear(const std::string& name, const Tensor& x, const Tensor& W) const {
  return QuantLinearOps::linear(name, x, rot_ && !rot_->is_identity() ? rot_->weight(name, W) : W);
}

}  // namespace twla
