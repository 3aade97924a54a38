// rotations/weight_stats.cpp: see weight_stats.h. Plain loops over the fp32 values in double:
// one pass each, no temporaries the size of W (a 7B layer is 45M values).
#include "rotations/weight_stats.h"

#include <cmath>

#include "core/error.h"

namespace twla {

namespace {
// W as contiguous fp32 (a copy only when it is not already).
Tensor flat_f32(const Tensor& W) { return W.to(at::kFloat).contiguous().reshape({-1}); }
}  // namespace

double weight_rms(const Tensor& W) {
  Tensor f = flat_f32(W);
  const float* p = f.data_ptr<float>();
  const int64_t n = f.numel();
  if (n == 0) return 0;
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += double(p[i]) * double(p[i]);
  return std::sqrt(s / double(n));
}

std::vector<int64_t> weight_histogram(const Tensor& W, double unit, int bins, double range) {
  TWLA_CHECK(bins >= 1 && range > 0, "weight histogram: bins=", bins, " and range=", range,
             " must be positive");
  TWLA_CHECK(unit > 0 && std::isfinite(unit), "weight histogram: the unit (the layer's RMS) is ",
             unit, "; an all-zero layer has no scale to draw it in");
  Tensor f = flat_f32(W);
  const float* p = f.data_ptr<float>();
  const double per_bin = double(bins) / (2.0 * range);
  std::vector<int64_t> counts(size_t(bins), 0);
  for (int64_t i = 0; i < f.numel(); ++i) {
    const double v = double(p[i]) / unit;
    if (std::isnan(v)) continue;
    const double k = std::floor((v + range) * per_bin);
    counts[size_t(k < 0 ? 0 : k >= bins ? bins - 1 : int(k))] += 1;
  }
  return counts;
}

std::vector<double> weight_histogram_edges(int bins, double range) {
  std::vector<double> e;
  for (int k = 0; k <= bins; ++k) e.push_back(-range + 2.0 * range * double(k) / double(bins));
  return e;
}

double fraction_beyond(const Tensor& W, double unit, double range) {
  Tensor f = flat_f32(W);
  const float* p = f.data_ptr<float>();
  const int64_t n = f.numel();
  if (n == 0) return 0;
  int64_t c = 0;
  for (int64_t i = 0; i < n; ++i) c += std::abs(double(p[i])) > range * unit;
  return double(c) / double(n);
}

double weight_kurtosis(const Tensor& W) {
  Tensor f = flat_f32(W);
  const float* p = f.data_ptr<float>();
  const int64_t n = f.numel();
  if (n == 0) return 0;
  double mean = 0;
  for (int64_t i = 0; i < n; ++i) mean += p[i];
  mean /= double(n);
  double m2 = 0, m4 = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = double(p[i]) - mean, d2 = d * d;
    m2 += d2;
    m4 += d2 * d2;
  }
  m2 /= double(n);
  m4 /= double(n);
  return m2 > 0 ? m4 / (m2 * m2) : 0.0;
}

TernaryFractions ternary_fractions(const Tensor& W) {
  Tensor f = flat_f32(W);
  const float* p = f.data_ptr<float>();
  const int64_t n = f.numel();
  TernaryFractions t;
  if (n == 0) return t;
  double alpha = 0;
  for (int64_t i = 0; i < n; ++i) alpha += std::abs(double(p[i]));
  alpha /= double(n);
  if (alpha == 0) {
    t.zero = 1;
    return t;
  }
  int64_t neg = 0, pos = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double q = std::nearbyint(double(p[i]) / alpha);   // half to even, as torch.round
    neg += q <= -1;
    pos += q >= 1;
  }
  t.neg = double(neg) / double(n);
  t.pos = double(pos) / double(n);
  t.zero = 1.0 - t.neg - t.pos;
  return t;
}

}  // namespace twla
