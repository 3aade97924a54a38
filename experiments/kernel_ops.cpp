// experiments/kernel_ops.cpp: see kernel_ops.h.
#include "experiments/kernel_ops.h"

#include <functional>
#include <stdexcept>

#include "core/error.h"
#include "kernels/e2m.h"
#include "kernels/tq2.h"
#include "quantizers/act_quant.h"
#include "quantizers/e2m_convert.h"
#include "quantizers/tq2_convert.h"

namespace twla {

KernelLinearOps::KernelLinearOps(const Model& model, const Rotation* rotation, Allocation alloc,
                                 double default_clip, bool compat_reference, int threads,
                                 KernelDevice device)
    : fake_(rotation, std::move(alloc), default_clip, compat_reference),
      rot_(rotation),
      threads_(threads < 1 ? 1 : threads) {
  for (int b = 0; b < model.n_blocks(); ++b)
    for (const auto& name : block_linear_names(b)) {
      auto p = model.override_of(name);
      if (p && p->format == "ternary")
        packed_.emplace(name, Packed{"tq2", ternary_to_tq2(*p), nullptr});
      else if (p && e2m_kernel_supports(*p))
        packed_.emplace(name, Packed{"e2m", e2m_to_kernel(*p).bytes, nullptr});
      else
        fallback_.push_back(name);
    }
  if (device != KernelDevice::kCuda) return;
  const std::string why = kernels::cuda::device_status();
  TWLA_CHECK(why.empty(), "backend kernel-cuda: ", why);
  for (auto& kv : packed_) {
    try {
      kv.second.device = kernels::cuda::make_device_linear(kv.second.format, kv.second.bytes.data(),
                                                           kv.second.bytes.size());
    } catch (const std::exception& e) {
      TWLA_CHECK(false, "backend kernel-cuda: copying ", kv.first, " (", kv.second.format, ") to the GPU failed: ",
                 e.what());
    }
  }
}

std::vector<std::string> KernelLinearOps::kernel_linears() const {
  std::vector<std::string> out;
  for (const auto& kv : packed_) out.push_back(kv.first);
  return out;
}

std::map<std::string, int> KernelLinearOps::format_counts() const {
  std::map<std::string, int> n;
  for (const auto& kv : packed_) ++n[kv.second.format];
  return n;
}

std::string KernelLinearOps::summary() const {
  std::string s;
  const bool cuda = !packed_.empty() && packed_.begin()->second.device;
  for (const auto& kv : format_counts())
    s += std::to_string(kv.second) + " " + kv.first + (cuda ? " (cuda)" : "") + ", ";
  return s + std::to_string(fallback_.size()) + " dequantized";
}

int64_t KernelLinearOps::packed_bytes() const {
  int64_t n = 0;
  for (const auto& kv : packed_) n += int64_t(kv.second.bytes.size());
  return n;
}

namespace {
// One format's GEMMs behind one interface: fp32 activations, or integer codes + scale + zero.
struct Gemm {
  int64_t oc = 0, ic = 0;
  std::function<void(const float*, int, float*)> f32;
  std::function<void(const uint8_t*, const float*, const float*, int, float*)> act;
};

Gemm gemm_of(const std::string& format, const std::vector<uint8_t>& bytes,
             const std::shared_ptr<const kernels::cuda::DeviceLinear>& dev, int threads) {
  Gemm g;
  if (dev) {
    g.oc = dev->oc(), g.ic = dev->ic();
    g.f32 = [dev](const float* x, int n, float* y) { dev->gemm_f32(x, n, y); };
    g.act = [dev](const uint8_t* q, const float* s, const float* z, int n, float* y) {
      dev->gemm_act(q, s, z, n, y);
    };
  } else if (format == "tq2") {
    const auto w = kernels::tq2_view(bytes.data(), bytes.size());
    kernels::Tq2Opts ko;
    ko.threads = threads;
    g.oc = w.oc, g.ic = w.ic;
    g.f32 = [w, ko](const float* x, int n, float* y) { kernels::tq2_gemm_f32(w, x, n, y, ko); };
    g.act = [w, ko](const uint8_t* q, const float* s, const float* z, int n, float* y) {
      kernels::tq2_gemm_act(w, kernels::tq2_act_from_codes(w, q, s, z, n), y, ko);
    };
  } else {
    const auto w = kernels::e2m_view(bytes.data(), bytes.size());
    kernels::E2mOpts ko;
    ko.threads = threads;
    g.oc = w.oc, g.ic = w.ic;
    g.f32 = [w, ko](const float* x, int n, float* y) { kernels::e2m_gemm_f32(w, x, n, y, ko); };
    g.act = [w, ko](const uint8_t* q, const float* s, const float* z, int n, float* y) {
      kernels::e2m_gemm_act(w, q, s, z, n, y, ko);
    };
  }
  return g;
}
}  // namespace

Tensor KernelLinearOps::linear(const std::string& name, const Tensor& x0, const Tensor& W) const {
  auto it = packed_.find(name);
  if (it == packed_.end()) return fake_.linear(name, x0, W);
  const Gemm g = gemm_of(it->second.format, it->second.bytes, it->second.device, threads_);
  Tensor x = (rot_ ? rot_->input(name, x0) : x0).to(at::kFloat);
  TWLA_CHECK(x.size(-1) == g.ic, "kernel backend: ", name, " got inputs of width ", x.size(-1),
             ", its packed weight has ", g.ic, " columns");
  std::vector<int64_t> out_shape(x.sizes().begin(), x.sizes().end());
  out_shape.back() = g.oc;
  Tensor x2 = x.reshape({-1, g.ic}).contiguous();
  const int64_t rows = x2.size(0);
  Tensor y = at::empty({rows, g.oc}, at::kFloat);
  const AffineSpec spec = fake_.act_spec(name);
  // The kernels take batches as int; run in slices of at most 4096 tokens.
  try {
    constexpr int64_t kSlice = 4096;
    for (int64_t r0 = 0; r0 < rows; r0 += kSlice) {
      const int n = int(std::min(kSlice, rows - r0));
      Tensor xs = x2.narrow(0, r0, n);
      float* ys = y.data_ptr<float>() + r0 * g.oc;
      if (spec.bits >= 16) {
        g.f32(xs.data_ptr<float>(), n, ys);
        continue;
      }
      AffineParams ap = affine_params(xs, spec);
      Tensor q = affine_codes(xs, ap, spec);
      if (spec.bits > 8) {   // codes do not fit a byte: fp32 activations on the dequantized grid
        Tensor xh = ((q - ap.zero) * ap.scale).contiguous();
        g.f32(xh.data_ptr<float>(), n, ys);
        continue;
      }
      Tensor q8 = q.to(at::kByte).contiguous();
      Tensor scale = ap.scale.reshape({n}).contiguous(), zero = ap.zero.reshape({n}).contiguous();
      g.act(q8.data_ptr<uint8_t>(), scale.data_ptr<float>(), zero.data_ptr<float>(), n, ys);
    }
  } catch (const std::range_error& e) {   // kernel-cuda: an activation beyond fp16
    TWLA_CHECK(false, "backend kernel-cuda: ", name, ": ", e.what());
  }
  return y.view(out_shape);
}

}  // namespace twla
