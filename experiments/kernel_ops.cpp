// experiments/kernel_ops.cpp: see kernel_ops.h.
#include "experiments/kernel_ops.h"

#include "core/error.h"
#include "kernels/tq2.h"
#include "quantizers/act_quant.h"
#include "quantizers/tq2_convert.h"

namespace twla {

KernelLinearOps::KernelLinearOps(const Model& model, const Rotation* rotation, Allocation alloc,
                                 double default_clip, bool compat_reference, int threads)
    : fake_(rotation, alloc, default_clip, compat_reference),
      rot_(rotation),
      alloc_(std::move(alloc)),
      clip_(default_clip),
      compat_(compat_reference),
      threads_(threads < 1 ? 1 : threads) {
  for (int b = 0; b < model.n_blocks(); ++b)
    for (const auto& name : block_linear_names(b)) {
      auto p = model.override_of(name);
      if (p && p->format == "ternary")
        tq2_.emplace(name, ternary_to_tq2(*p));
      else
        fallback_.push_back(name);
    }
}

std::vector<std::string> KernelLinearOps::kernel_linears() const {
  std::vector<std::string> out;
  for (const auto& kv : tq2_) out.push_back(kv.first);
  return out;
}

int64_t KernelLinearOps::packed_bytes() const {
  int64_t n = 0;
  for (const auto& kv : tq2_) n += int64_t(kv.second.size());
  return n;
}

Tensor KernelLinearOps::linear(const std::string& name, const Tensor& x0, const Tensor& W) const {
  auto it = tq2_.find(name);
  if (it == tq2_.end()) return fake_.linear(name, x0, W);
  const auto w = kernels::tq2_view(it->second.data(), it->second.size());
  Tensor x = (rot_ ? rot_->input(name, x0) : x0).to(at::kFloat);
  TWLA_CHECK(x.size(-1) == w.ic, "kernel backend: ", name, " got inputs of width ", x.size(-1),
             ", its packed weight has ", w.ic, " columns");
  std::vector<int64_t> out_shape(x.sizes().begin(), x.sizes().end());
  out_shape.back() = w.oc;
  Tensor x2 = x.reshape({-1, w.ic}).contiguous();
  const int64_t rows = x2.size(0);
  Tensor y = at::empty({rows, w.oc}, at::kFloat);
  kernels::Tq2Opts ko;
  ko.threads = threads_;
  const int b = block_of(name);
  const int bits = b < int(alloc_.act_bits.size()) ? alloc_.act_bits[size_t(b)] : 16;
  // The kernels take batches as int; run in slices of at most 4096 tokens.
  constexpr int64_t kSlice = 4096;
  for (int64_t r0 = 0; r0 < rows; r0 += kSlice) {
    const int n = int(std::min(kSlice, rows - r0));
    Tensor xs = x2.narrow(0, r0, n);
    float* ys = y.data_ptr<float>() + r0 * w.oc;
    if (bits >= 16) {
      kernels::tq2_gemm_f32(w, xs.data_ptr<float>(), n, ys, ko);
      continue;
    }
    auto c = alloc_.clip.find(name);
    AffineSpec spec;
    spec.bits = bits;
    spec.clip = c == alloc_.clip.end() ? clip_ : c->second;
    spec.compat_reference = compat_;
    AffineParams ap = affine_params(xs, spec);
    Tensor q = affine_codes(xs, ap, spec);
    if (bits > 8) {   // codes do not fit a byte: fp32 activations on the dequantized grid
      Tensor xh = ((q - ap.zero) * ap.scale).contiguous();
      kernels::tq2_gemm_f32(w, xh.data_ptr<float>(), n, ys, ko);
      continue;
    }
    Tensor q8 = q.to(at::kByte).contiguous();
    Tensor scale = ap.scale.reshape({n}).contiguous(), zero = ap.zero.reshape({n}).contiguous();
    auto act = kernels::tq2_act_from_codes(w, q8.data_ptr<uint8_t>(), scale.data_ptr<float>(),
                                           zero.data_ptr<float>(), n);
    kernels::tq2_gemm_act(w, act, ys, ko);
  }
  return y.view(out_shape);
}

}  // namespace twla
