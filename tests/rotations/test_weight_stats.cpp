// tests/rotations/test_weight_stats.cpp: the per-layer weight statistics of the rotation stats
// (rotations/weight_stats.h) against slow counts written differently: a histogram by comparing
// each value with every bin's edges (tensor ops), kurtosis from ATen moments, ternary fractions
// from ATen rounding; and the histogram of a Hadamard-rotated weight keeps the count and RMS.
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "rotations/hadamard.h"
#include "rotations/weight_stats.h"
#include "tests/catch.h"

using namespace twla;

namespace {
// Slow count: bin k holds lo_k <= v < hi_k (v = w / unit in double), the ends also what lies beyond.
std::vector<int64_t> slow_histogram(const Tensor& W, double unit, int bins, double range) {
  Tensor v = W.to(at::kDouble).reshape({-1}) / unit;
  const auto e = weight_histogram_edges(bins, range);
  std::vector<int64_t> c;
  for (int k = 0; k < bins; ++k) {
    Tensor in = v.ge(e[size_t(k)]).logical_and(v.lt(e[size_t(k) + 1]));
    if (k == 0) in = in.logical_or(v.lt(e[0]));
    if (k == bins - 1) in = in.logical_or(v.ge(e.back()));
    c.push_back(in.sum().item<int64_t>());
  }
  return c;
}
}  // namespace

TEST_CASE("weight histogram: counts sum to the weight count and match a slow count", "[rotations]") {
  at::manual_seed(7);
  Tensor W = at::randn({96, 172});
  W[3][5] = 40.0f;     // far beyond +5 RMS: last bin
  W[7][1] = -40.0f;    // far below: first bin
  const double unit = weight_rms(W);
  CHECK(std::abs(unit - W.to(at::kDouble).pow(2).mean().sqrt().item<double>()) < 1e-12 * unit);
  for (int bins : {1, 7, kWeightHistBins}) {
    auto h = weight_histogram(W, unit, bins, kWeightHistRange);
    REQUIRE(h.size() == size_t(bins));
    CHECK(std::accumulate(h.begin(), h.end(), int64_t(0)) == W.numel());
    CHECK(h == slow_histogram(W, unit, bins, kWeightHistRange));
  }
  auto h = weight_histogram(W, unit, kWeightHistBins, kWeightHistRange);
  CHECK(h.front() >= 1);
  CHECK(h.back() >= 1);
  const double beyond = fraction_beyond(W, unit, kWeightHistRange);
  CHECK(beyond == (W.abs().to(at::kDouble) > kWeightHistRange * unit).sum().item<double>() / W.numel());
  CHECK(beyond >= 2.0 / double(W.numel()));
  auto e = weight_histogram_edges(4, 2.0);
  CHECK(e == std::vector<double>{-2, -1, 0, 1, 2});
}

TEST_CASE("weight histogram: bad settings are clear errors", "[rotations]") {
  Tensor Z = at::zeros({4, 4});
  CHECK(weight_rms(Z) == 0.0);
  CHECK_THROWS_AS(weight_histogram(Z, 0.0, 10, 5.0), Error);
  CHECK_THROWS_AS(weight_histogram(at::ones({2, 2}), 1.0, 0, 5.0), Error);
}

TEST_CASE("weight kurtosis and ternary fractions match ATen", "[rotations]") {
  at::manual_seed(3);
  Tensor W = at::randn({64, 64}) * 0.02;
  W[0][0] = 0.5f;   // an outlier: heavy tail
  Tensor d = W.to(at::kDouble) - W.to(at::kDouble).mean();
  const double want = d.pow(4).mean().item<double>() / std::pow(d.pow(2).mean().item<double>(), 2);
  CHECK(std::abs(weight_kurtosis(W) - want) < 1e-9 * want);
  CHECK(weight_kurtosis(W) > 3.5);
  CHECK(std::abs(weight_kurtosis(at::randn({256, 256})) - 3.0) < 0.1);   // Gaussian: 3

  Tensor Wd = W.to(at::kDouble);
  Tensor q = (Wd / Wd.abs().mean()).round().clamp(-1, 1);
  TernaryFractions t = ternary_fractions(W);
  const double n = double(W.numel());
  CHECK(t.neg == q.eq(-1).sum().item<double>() / n);
  CHECK(t.pos == q.eq(1).sum().item<double>() / n);
  CHECK(std::abs(t.neg + t.zero + t.pos - 1.0) < 1e-12);
  CHECK(ternary_fractions(at::zeros({3, 3})).zero == 1.0);
}

TEST_CASE("a Hadamard rotation keeps the RMS, the histogram total, and thins the outliers", "[rotations]") {
  at::manual_seed(11);
  Tensor W = at::randn({32, 64});
  for (int i = 0; i < 32; ++i) W[i][i] = 30.0f;   // one huge entry per row
  auto plan = make_hadamard_plan(64, 0);
  Tensor R = hadamard_apply(*plan, W);
  const double unit = weight_rms(W);
  CHECK(std::abs(weight_rms(R) - unit) < 1e-5 * unit);
  auto before = weight_histogram(W, unit, kWeightHistBins, kWeightHistRange);
  auto after = weight_histogram(R, unit, kWeightHistBins, kWeightHistRange);
  CHECK(std::accumulate(after.begin(), after.end(), int64_t(0)) == W.numel());
  CHECK(fraction_beyond(R, unit, kWeightHistRange) < fraction_beyond(W, unit, kWeightHistRange));
  CHECK(weight_kurtosis(R) < weight_kurtosis(W));
}
