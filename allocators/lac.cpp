// allocators/lac.cpp: see lac.h.
#include "allocators/lac.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "quantizers/act_quant.h"

namespace twla {

namespace {
constexpr int64_t kChunkRows = 4096;          // LAC_CHUNK_ROWS of the reference
constexpr int64_t kMaxBatchElems = 8 << 20;   // [P, rows, max(ic, oc)] floats per grid batch
}  // namespace

std::vector<double> lac_grid(double start, double step, int n) {
  TWLA_CHECK(n >= 1 && step > 0, "LAC grid: size=", n, " and step=", step,
             " must be positive (the reference: start 0.5, step 0.005, size 100)");
  const double delta = (start + step) - start;
  std::vector<double> g(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) g[size_t(i)] = start + double(i) * delta;
  return g;
}

LacSearch::LacSearch(int bits, std::vector<double> grid, bool compat_reference)
    : bits_(bits), grid_(std::move(grid)), compat_(compat_reference), sse_(grid_.size(), 0.0) {
  TWLA_CHECK(bits >= 2 && bits < 16, "LAC search at bits=", bits,
             ": only quantized widths 2..15 have a clip ratio to search");
  TWLA_ASSERT(!grid_.empty());
}

void LacSearch::add(const Tensor& x_in, const Tensor& W, const Tensor& bias) {
  const int64_t ic = W.size(1), oc = W.size(0);
  TWLA_ASSERT(x_in.size(-1) == ic);
  Tensor x = x_in.reshape({-1, ic}).to(at::kFloat);   // [rows, ic]
  Tensor Wt = W.to(at::kFloat).t();                   // [ic, oc]
  const int64_t P = int64_t(grid_.size());
  Tensor clips = at::empty({P}, at::kFloat);
  for (int64_t p = 0; p < P; ++p) clips[p] = float(grid_[size_t(p)]);
  AffineSpec spec;
  spec.bits = bits_;
  spec.compat_reference = compat_;
  for (int64_t r0 = 0; r0 < x.size(0); r0 += kChunkRows) {
    Tensor xc = x.narrow(0, r0, std::min(kChunkRows, x.size(0) - r0));   // [r, ic]
    const int64_t r = xc.size(0);
    Tensor y_ref = at::matmul(xc, Wt);                                    // [r, oc]
    if (bias.defined()) y_ref = y_ref + bias;
    Tensor xmin = xc.amin(-1, true), xmax = xc.amax(-1, true);            // [r, 1]
    const int64_t per = std::max<int64_t>(1, kMaxBatchElems / std::max<int64_t>(1, r * std::max(ic, oc)));
    for (int64_t p0 = 0; p0 < P; p0 += per) {
      const int64_t n = std::min(per, P - p0);
      Tensor c = clips.narrow(0, p0, n).view({n, 1, 1});                 // [n, 1, 1]
      // The reference multiplies xmax and xmin by the python float p in fp32, one p at a time.
      AffineParams g = affine_params_from_range(xmin * c, xmax * c, spec);   // [n, r, 1]
      Tensor xq = affine_fake_quant(xc, g, spec);                         // [n, r, ic]
      Tensor y = at::matmul(xq, Wt);                                      // [n, r, oc]
      if (bias.defined()) y = y + bias;
      Tensor sse = (y - y_ref).pow(2).sum({1, 2});                        // [n] fp32, as .item()
      auto* s = sse.data_ptr<float>();
      for (int64_t i = 0; i < n; ++i) sse_[size_t(p0 + i)] += double(s[i]);
    }
    count_ += r * oc;
  }
}

LacChoice LacSearch::best(double fallback_clip) const {
  LacChoice c;
  c.clip = fallback_clip;
  double best = INFINITY;
  for (size_t i = 0; i < sse_.size(); ++i) {
    const double mse = count_ > 0 ? sse_[i] / double(count_) : NAN;
    if (std::isfinite(mse) && mse < best) best = mse, c.index = int(i);
  }
  if (c.index >= 0) c.clip = grid_[size_t(c.index)], c.mse = best;
  else c.mse = NAN;
  return c;
}

}  // namespace twla
