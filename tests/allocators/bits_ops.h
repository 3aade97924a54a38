// tests/allocators/bits_ops.h: the linear ops the ILA-AMP measurement tests evaluate with:
// x -> per-token fake-quant at its block's width (clip 0.9) -> x W^T.
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <utility>
#include <vector>

#include "core/model.h"
#include "core/model_config.h"
#include "quantizers/act_quant.h"

namespace twla::test {

class BitsOps : public LinearOps {
 public:
  explicit BitsOps(std::vector<int> bits) : bits_(std::move(bits)) {}
  Tensor linear(const std::string& name, const Tensor& x, const Tensor& W) const override {
    AffineSpec s;
    s.bits = bits_[size_t(linear_block(name))];
    s.clip = 0.9;
    return at::matmul(act_fake_quant(x, s), W.t());
  }

 private:
  std::vector<int> bits_;
};

}  // namespace twla::test
