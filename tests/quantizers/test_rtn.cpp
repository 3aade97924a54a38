// tests/quantizers/test_rtn.cpp: uniform RTN (rules gptq and twla) and the ternary grids against
// the golden vectors and by hand; packed forms rebuild the dequant exactly.
#include <ATen/CPUGeneratorImpl.h>

#include <cstdio>

#include "core/error.h"
#include "quantizers/rtn.h"
#include "quantizers/ternary.h"
#include "tests/catch.h"
#include "tests/support/golden_cases.h"

using namespace twla;

namespace {
// Values equal (so -0.0 == 0.0, as the golden README asks for zero points).
bool same_values(const Tensor& a, const Tensor& b) {
  return a.sizes() == b.sizes() && (a.to(at::kDouble) == b.to(at::kDouble)).all().item<bool>();
}
Tensor random_weight(int64_t oc, int64_t ic, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn({oc, ic}, gen, at::TensorOptions().dtype(at::kFloat));
}
}  // namespace

TEST_CASE("rtn golden: every rtn_* case (GPTQ Quantizer; TWLA UniformAffineQuantizer configs)") {
  // codes/zero points exact; scale, Q/Wq within tolerance; packed form exact (golden_check_quant.cpp).
  CHECK(test::check_golden_cases("rtn_") >= 3);   // rtn_<bits>... and rtn_uniform_affine_*
}

TEST_CASE("rtn golden weights: packing exact, compat switch inert, every config") {
  // The comparison with the reference (Wq, scale, zero point) is check_golden_cases("rtn_")
  // above; here what the golden case does not state.
  auto g = test::load_golden("rtn_uniform_affine_32x256");
  Tensor W = g.f32("W");
  for (const auto& c : g.meta["hyperparameters"]["configs"]) {
    RtnSpec s;
    s.bits = c["bits"].get<int>();
    s.symmetric = c["sym"].get<bool>();
    s.group_size = c["gs"].is_null() ? -1 : c["gs"].get<int64_t>();
    s.rule = RtnRule::twla;
    s.mse_norm = c["mse"].is_null() ? 0 : c["mse"].get<double>();
    s.compat_reference = true;
    CAPTURE(s.bits, s.symmetric, s.group_size, s.mse_norm);
    UniformQuant q = rtn_uniform(W, s);
    CHECK(at::equal(dequantize(pack_uniform(q)), q.dequant));
    // No weight row of this case triggers the reference's activation defects: correct == compat.
    s.compat_reference = false;
    CHECK(at::equal(rtn_uniform(W, s).dequant, q.dequant));
  }
}

TEST_CASE("rtn gptq rule: symmetric grid, all-zero rows, shrink search never worse") {
  Tensor W = random_weight(8, 64, 1);
  W[0].zero_();
  RtnSpec s;
  s.bits = 4;
  s.symmetric = true;
  UniformQuant q = rtn_uniform(W, s);
  CHECK(same_values(q.zero, at::full_like(q.zero, 8.0)));  // (maxq + 1) / 2
  Tensor absmax = std::get<0>(W.abs().max(1, true));
  CHECK(at::allclose(q.scale.slice(0, 1), (absmax * 2 / 15.0).slice(0, 1)));
  CHECK(q.dequant[0].abs().max().item<float>() == 0);
  CHECK(q.scale[0][0].item<float>() == Approx(2.0 / 15));  // grid [-1, 1] for the zero row
  // the mse search starts at shrink 1 (plain min/max) and only takes strictly better grids
  s.symmetric = false;
  UniformQuant plain = rtn_uniform(W, s);
  s.mse_norm = 2.4;
  UniformQuant searched = rtn_uniform(W, s);
  Tensor e0 = (plain.dequant - W).abs().pow(2.4).sum(1);
  Tensor e1 = (searched.dequant - W).abs().pow(2.4).sum(1);
  CHECK((e1 <= e0).all().item<bool>());
  CHECK(at::equal(dequantize(pack_uniform(searched)), searched.dequant));
}

TEST_CASE("rtn: groups equal per-row quantization of each column slice; honest bits") {
  Tensor W = random_weight(16, 256, 2);
  for (RtnRule rule : {RtnRule::gptq, RtnRule::twla}) {
    RtnSpec s;
    s.bits = 3;
    s.group_size = 64;
    s.rule = rule;
    UniformQuant q = rtn_uniform(W, s);
    REQUIRE(q.scale.sizes() == at::IntArrayRef({16, 4}));
    s.group_size = -1;
    for (int64_t g = 0; g < 4; ++g) {
      UniformQuant r = rtn_uniform(W.slice(1, g * 64, (g + 1) * 64), s);
      CHECK(at::equal(r.dequant, q.dequant.slice(1, g * 64, (g + 1) * 64)));
    }
    // 3-bit codes + fp16 scale + zero (3-bit integer for gptq, fp16 for twla) per 64 weights
    CHECK(q.bits_per_weight == Approx(3 + (16 + (rule == RtnRule::gptq ? 3 : 16)) / 64.0));
  }
}

TEST_CASE("ternary threshold: golden order-1 fit on a full mask; packing is exact") {
  auto g = test::load_golden("e2m_atq_primitives_16x128");
  Tensor x = g.f32("x");
  Tensor expect = g.f32("full.hor_o1");  // high_order_residual(x, full mask, order=1)
  TernaryQuant q = ternary_threshold(x);
  double e = max_abs_diff(q.dequant, expect);
  CHECK(e <= 1e-7 + 1e-5 * max_abs(expect));
  std::printf("golden e2m_atq_primitives_16x128 full.hor_o1 (threshold ternary): max|diff| %.3g\n", e);
  CHECK(at::equal(dequantize(pack_ternary(q)), q.dequant));
  CHECK(q.bits_per_weight == Approx(2 + 32.0 / 128));
}

TEST_CASE("ternary threshold: the definition by hand, strict threshold, zero rows") {
  // row 0: mu = 0.25, w - mu = {0.75, -0.25, -1.25, 0.75}, mean| | = 0.75, delta = 0.5625
  // -> t = {1, 0, -1, 1}, alpha = (0.75 + 1.25 + 0.75) / 3
  Tensor W = at::tensor({1.0f, 0.0f, -1.0f, 1.0f, 0.f, 0.f, 0.f, 0.f}).reshape({2, 4});
  TernaryQuant q = ternary_threshold(W);
  CHECK(same_values(q.codes[0], at::tensor({1, 0, -1, 1}, at::kChar)));
  CHECK(q.mu[0][0].item<float>() == Approx(0.25));
  CHECK(q.alpha[0][0].item<float>() == Approx(2.75 / 3));
  CHECK(q.dequant[1].abs().max().item<float>() == 0);
  // |w - mu| == delta exactly stays 0: {5, -5, 3, -3}: mu = 0, delta = 0.75 * 4 = 3 (exact)
  TernaryQuant e = ternary_threshold(at::tensor({5.0f, -5.0f, 3.0f, -3.0f}).reshape({1, 4}));
  CHECK(same_values(e.codes[0], at::tensor({1, -1, 0, 0}, at::kChar)));
  CHECK(e.alpha[0][0].item<float>() == Approx(5.0));
}

TEST_CASE("ternary absmean (BitNet b1.58) and trits (GPTQ ternary grid) by hand") {
  Tensor W = at::tensor({0.9f, -0.1f, 0.5f, -2.0f, 0.f, 0.f, 0.f, 0.f}).reshape({2, 4});
  TernaryQuant a = ternary_absmean(W);  // alpha = 0.875: W/alpha = {1.03, -0.11, 0.57, -2.29}
  CHECK(same_values(a.codes[0], at::tensor({1, 0, 1, -1}, at::kChar)));
  CHECK(a.alpha[0][0].item<float>() == Approx(0.875));
  CHECK(a.mu.abs().max().item<float>() == 0);
  CHECK(a.dequant[1].abs().max().item<float>() == 0);  // all-zero row: alpha floored, t = 0
  TernaryQuant t = ternary_trits(W);  // alpha = max|w| = 2, threshold 1: only -2.0 survives
  CHECK(same_values(t.codes[0], at::tensor({0, 0, 0, -1}, at::kChar)));
  CHECK(t.alpha[0][0].item<float>() == 2.0f);
  CHECK(t.alpha[1][0].item<float>() == 1.0f);  // GPTQ's dead-group grid [-1, 1]
  CHECK(t.dequant[1].abs().max().item<float>() == 0);
  for (const TernaryQuant* q : {&a, &t}) {
    CHECK(at::equal(dequantize(pack_ternary(*q)), q->dequant));
    CHECK(q->bits_per_weight == Approx(2 + 16.0 / 4));
  }
}

TEST_CASE("ternary grids: groups equal per-row fits of each column slice") {
  Tensor W = random_weight(8, 256, 3);
  for (auto fn : {ternary_absmean, ternary_threshold, ternary_trits}) {
    TernaryQuant q = fn(W, 128);
    REQUIRE(q.alpha.sizes() == at::IntArrayRef({8, 2}));
    for (int64_t g = 0; g < 2; ++g) {
      TernaryQuant r = fn(W.slice(1, g * 128, (g + 1) * 128), -1);
      CHECK(at::equal(r.dequant, q.dequant.slice(1, g * 128, (g + 1) * 128)));
    }
    CHECK(at::equal(dequantize(pack_ternary(q)), q.dequant));
  }
}

TEST_CASE("group size that does not divide ic is a user error naming the field") {
  Tensor W = random_weight(4, 96, 4);
  RtnSpec s;
  s.group_size = 64;
  try {
    rtn_uniform(W, s);
    FAIL("no error");
  } catch (const Error& e) {
    std::string m = e.what();
    CHECK(m.find("group_size=64") != std::string::npos);
    CHECK(m.find("ic=96") != std::string::npos);
  }
  CHECK_THROWS_AS(ternary_absmean(W, 64), Error);
  CHECK_THROWS_AS(ternary_threshold(W, 0), Error);
}
