// tests/rotations/test_kotms.cpp: KOTMS against every kotms_* golden case (kotms_32x256) through
// experiments/golden_check_kotms.cpp (factor table, Cayley forward, 5-step Adam traces from given
// and zero init in f64/f32, the function-default run and the 100-step f64 run; the per-step
// gradients check the hand-written backward), the row-wise rotation against an explicit kron.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cmath>
#include <iostream>

#include "rotations/kotms.h"
#include "tests/catch.h"
#include "tests/support/golden_cases.h"

using namespace twla;

TEST_CASE("kotms golden: the (l, r) factor table") {
  CHECK(test::golden_cases("kotms_").size() >= 1);
  for (const auto& n : test::golden_cases("kotms_")) CHECK_GOLDEN_PART(n, check_kotms_factors);
}

TEST_CASE("kotms golden: Cayley factors and the rotated weight at given parameters, orthogonal") {
  for (const auto& n : test::golden_cases("kotms_")) CHECK_GOLDEN_PART(n, check_kotms_forward);
}

TEST_CASE("kotms golden: Adam runs match the reference step by step") {
  // Per run: (l, r), every loss, per-step gradients (the hand-written backward) and parameters,
  // final B, C, W_rot at the sidecar's f64/f32 tolerances (golden_check_kotms.cpp).
  for (const auto& n : test::golden_cases("kotms_")) CHECK_GOLDEN_PART(n, check_kotms_runs);
}

TEST_CASE("kotms: the row-wise C X B equals x (C^T (x) B), an orthogonal Q") {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  for (auto lr : {std::vector<int64_t>{4, 8}, std::vector<int64_t>{43, 4}, std::vector<int64_t>{13, 1}}) {
    const int64_t l = lr[0], r = lr[1];
    CAPTURE(l, r);
    Tensor C = cayley(at::randn({l, l}, gen, at::kDouble) * 0.3);
    Tensor B = cayley(at::randn({r, r}, gen, at::kDouble) * 0.3);
    Tensor Q = at::kron(C.t().contiguous(), B.contiguous());  // (kron needs contiguous inputs in 1.13)  // [l*r, l*r]
    CHECK(max_abs(Q.t().mm(Q) - at::eye(l * r, at::kDouble)) < 1e-12);
    Tensor x = at::randn({3, 2, l * r}, gen, at::kDouble);
    CHECK(max_abs_diff(kron_rotate(x, C, B), at::matmul(x, Q)) < 1e-12);
    Tensor xf = x.to(at::kFloat);
    CHECK(max_abs_diff(kron_rotate(xf, C.to(at::kFloat), B.to(at::kFloat)).to(at::kDouble),
                       at::matmul(x, Q)) < 1e-5);
  }
}

// Timing only (not run by default): ./test_rotations "[.bench]".
TEST_CASE("kotms: time per layer", "[.bench]") {
  using clk = std::chrono::steady_clock;
  auto secs = [](clk::time_point t0) { return std::chrono::duration<double>(clk::now() - t0).count(); };
  for (auto shape : {std::vector<int64_t>{1024, 4096}, std::vector<int64_t>{4096, 4096}}) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
    Tensor W = at::randn({shape[0], shape[1]}, gen, at::kFloat) * 0.02;
    KotmsConfig cfg;
    cfg.steps = 3;
    KotmsResult r = kotms_train(W, cfg);
    KotmsFactors f = kotms_factors(shape[0], shape[1]);
    Tensor Pr = at::zeros({f.r, f.r}), Pl = at::zeros({f.l, f.l}), B = cayley(Pr);
    auto t0 = clk::now();
    Tensor Y = W.view({-1, f.r}).mm(B);
    double gemm = secs(t0);
    t0 = clk::now();
    kotms_loss(W, Pr, Pl, cfg, false);
    double fwd = secs(t0);
    t0 = clk::now();
    kotms_loss(W, Pr, Pl, cfg, true);
    double fwdbwd = secs(t0);
    std::cout << "kotms " << shape[0] << "x" << shape[1] << " (l=" << r.l << ", r=" << r.r << "), "
              << cfg.steps << " steps: " << r.seconds << " s, so ~" << r.seconds / cfg.steps * 100
              << " s per 100 steps on " << at::get_num_threads() << " threads; one step: loss "
              << fwd << " s, loss+grad " << fwdbwd << " s, of which one W B GEMM " << gemm << " s\n";
  }
}
