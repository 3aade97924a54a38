// tests/quantizers/test_hessian.cpp: H and S accumulation against the golden add_batch traces
// (both references, through experiments/golden_check), the compat-only renormalisation, and the
// H-preparation errors.
#include <ATen/CPUGeneratorImpl.h>

#include <cstdio>
#include <tuple>

#include "core/error.h"
#include "quantizers/hessian.h"
#include "tests/catch.h"
#include "tests/support/golden_cases.h"

using namespace twla;

namespace {
double rel_to_max(const Tensor& a, const Tensor& b) {   // max |a-b| / max |b|
  double m = max_abs(b);
  return max_abs_diff(a, b) / (m > 0 ? m : 1.0);
}
}  // namespace

TEST_CASE("hessian golden: TWLA add_batch, with the compat renormalisation", "[hessian][e2m]") {
  // H after each add_batch call and its renormalisation flag, the final H and the S blocks, each
  // within 1e-5 of its max (golden_check_e2m.cpp check_e2m_add_batch), on every E2M-ATQ layer case.
  std::vector<std::string> names = test::golden_cases("e2m_atq_full_");
  for (const auto& r : test::golden_cases("e2m_atq_ternary_rtn_")) names.push_back(r);
  CHECK(names.size() >= 3);
  for (const auto& name : names) CHECK_GOLDEN_PART(name, check_e2m_add_batch);
}

TEST_CASE("hessian: default never renormalises; H = (2/N) sum x x^T", "[hessian][e2m]") {
  auto g = test::load_golden("e2m_atq_full_16x192_dead_partial");
  Tensor X = g.f32("X");
  HessianAccumulator acc;
  for (int64_t j = 0; j < X.size(0); ++j) hessian_add_batch(acc, X[j]);
  for (bool b : acc.normalized) CHECK_FALSE(b);
  CHECK(acc.n_seq == X.size(0));
  CHECK(acc.n_tokens == X.size(0) * X.size(1));
  Tensor Xf = X.reshape({-1, X.size(2)}).to(at::kDouble);
  Tensor H = (Xf.t().matmul(Xf) * (2.0 / X.size(0))).to(at::kFloat);
  CHECK(rel_to_max(acc.H, H) <= 1e-5);
  // A [B, T, ic] batch counts B sequences.
  HessianAccumulator acc2;
  hessian_add_batch(acc2, X);
  CHECK(acc2.n_seq == X.size(0));
  CHECK(rel_to_max(acc2.H, H) <= 1e-5);
}

TEST_CASE("hessian golden: IST-DASLab GPTQ add_batch", "[hessian][gptq]") {
  // H from X in the reference's add_batch chunks (golden_check_quant.cpp check_gptq_add_batch).
  const auto names = test::golden_cases("gptq_");
  CHECK(names.size() >= 1);
  for (const auto& name : names) CHECK_GOLDEN_PART(name, check_gptq_add_batch);
}

TEST_CASE("hessian: dead columns, damping, errors", "[hessian][gptq][e2m]") {
  Tensor H = at::eye(4, at::kFloat) * 2;
  H[1][1] = 0;
  Tensor W = at::ones({3, 4}, at::kFloat);
  auto dead = fix_dead_columns(H, W);
  REQUIRE(dead == std::vector<int64_t>{1});
  CHECK(H[1][1].item<float>() == 1.f);
  CHECK(W.select(1, 1).abs().sum().item<float>() == 0.f);
  double damp = damp_hessian(H, 0.1);
  CHECK(damp == Approx(0.1 * 7.0 / 4.0));
  Tensor U = inverse_cholesky_upper(H, "x", 0.1);
  CHECK(max_abs_diff(U.t().matmul(U), at::inverse(H)) < 1e-6);

  Tensor bad = -at::eye(4, at::kFloat);
  for (int way : {0, 1, 2}) {
    try {
      if (way == 0) inverse_cholesky_upper(bad, "layers.0.q_proj", 0.1);
      else inverse_cholesky_upper_direct(bad, "layers.0.q_proj", 0.1, way == 1);
      FAIL("expected an Error");
    } catch (const Error& e) {
      CHECK_THAT(e.what(), Catch::Matchers::Contains("layers.0.q_proj"));
      CHECK_THAT(e.what(), Catch::Matchers::Contains("not positive definite"));
    }
  }
  Tensor nan = at::ones({2, 2}, at::kFloat);
  nan[0][1] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_AS(check_finite(nan, "weight", "l"), Error);
}

TEST_CASE("hessian: the direct chol(H^-1) is the reference's factor (one Cholesky + trtri)", "[hessian][gptq]") {
  // An ill-conditioned H (rank-8 shared part, per-channel scales) at a ragged width.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(9);
  const int64_t ic = 301;
  Tensor X = at::randn({512, ic}, gen, at::TensorOptions().dtype(at::kFloat)) +
             at::randn({512, 8}, gen, at::TensorOptions().dtype(at::kFloat))
                 .matmul(at::randn({8, ic}, gen, at::TensorOptions().dtype(at::kFloat))) * 3;
  X = X * at::linspace(0.1, 4.0, ic, at::kFloat);
  HessianAccumulator acc;
  hessian_add_batch(acc, X);
  Tensor H = acc.H.clone();
  damp_hessian(H, 0.01);
  Tensor ref = inverse_cholesky_upper(H, "L", 0.01);
  Tensor Hinv = at::inverse(H.to(at::kDouble));
  for (bool lapack : {true, false}) {
    INFO("lapack strtri " << lapack);
    Tensor U = inverse_cholesky_upper_direct(H, "L", 0.01, lapack);
    REQUIRE(U.sizes() == ref.sizes());
    CHECK(at::equal(U, U.triu()));
    CHECK((at::diag(U) > 0).all().item<bool>());
    const double m = ref.abs().max().item<double>();
    CHECK(max_abs_diff(U, ref) <= 1e-4 * m);   // the golden cases' Hinv tolerance
    // At least as close to the exact factor's product as the reference sequence.
    Tensor Ud = U.to(at::kDouble), Rd = ref.to(at::kDouble);
    const double e_direct = (Ud.t().matmul(Ud) - Hinv).abs().max().item<double>();
    const double e_ref = (Rd.t().matmul(Rd) - Hinv).abs().max().item<double>();
    INFO("|U^T U - H^-1|: direct " << e_direct << ", reference " << e_ref);
    CHECK(e_direct <= 2 * e_ref);
  }
}

TEST_CASE("hessian: H and chol(H^-1) bit-identical on 1 and 2 threads, BLAS included",
          "[hessian][threads]") {
  // Wide enough that OpenBLAS's GEMM and Cholesky take their multithreaded paths; set_threads
  // caps both ATen and OpenBLAS, as a run does.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  const int64_t ic = 1536;
  Tensor X = at::randn({2, 1024, ic}, gen, at::TensorOptions().dtype(at::kFloat));
  const int before = get_threads();
  auto run = [&](int threads) {
    set_threads(threads);
    HessianAccumulator acc;
    hessian_add_batch(acc, X);
    Tensor H = acc.H.clone();
    damp_hessian(H, 0.01);
    return std::make_tuple(acc.H, inverse_cholesky_upper(H, "L", 0.01),
                           inverse_cholesky_upper_direct(H, "L", 0.01));
  };
  auto [H1, U1, D1] = run(1);
  auto [H2, U2, D2] = run(2);
  set_threads(before);
  CHECK(at::equal(H1, H2));
  CHECK(at::equal(U1, U2));
  CHECK(at::equal(D1, D2));
}
