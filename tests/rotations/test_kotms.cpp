// tests/rotations/test_kotms.cpp: KOTMS against the golden case kotms_32x256 (factor table, Cayley
// forward, 5-step Adam traces from given and zero init in f64/f32, the function-default run and the
// 100-step f64 run). The per-step gradients check the hand-written backward.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cmath>
#include <iostream>

#include "rotations/kotms.h"
#include "tests/catch.h"
#include "tests/support/golden.h"

using namespace twla;

namespace {
// allclose: |a - b| <= atol + rtol |b|; returns the largest ratio (<= 1 passes).
double close_ratio(const Tensor& a, const Tensor& b, double rtol, double atol) {
  Tensor A = a.to(at::kDouble), B = b.to(at::kDouble);
  REQUIRE(A.sizes() == B.sizes());
  return ((A - B).abs() / (atol + rtol * B.abs())).max().item<double>();
}
double g_worst_elem_rel = 0, g_worst_abs = 0;  // over one run, for the report line
double rel_err(double a, double b) { return std::abs(a - b) / std::abs(b); }

struct Tol {
  double rtol, atol;
};
Tol tol_for(bool f64, bool after_steps) {
  if (!f64) return {1e-4, 1e-6};
  return {after_steps ? 1e-8 : 1e-9, 0.0};
}
// An atol of zero cannot absorb round-off on entries that are ~0 by cancellation; such entries use
// atol = rtol * max|expected| (relative to the tensor's scale). Reported so drift is visible.
double check(const std::string& what, const Tensor& got, const Tensor& want, Tol t) {
  double atol = t.atol > 0 ? t.atol : t.rtol * want.abs().max().item<double>();
  double r = close_ratio(got, want, t.rtol, atol);
  double e = max_abs_diff(got.to(at::kDouble), want.to(at::kDouble));
  Tensor w = want.to(at::kDouble), d = (got.to(at::kDouble) - w).abs();
  Tensor nz = w.abs() > 0;
  double pure = nz.any().item<bool>() ? (d.masked_select(nz) / w.abs().masked_select(nz)).max().item<double>() : 0;
  g_worst_elem_rel = std::max(g_worst_elem_rel, pure);
  g_worst_abs = std::max(g_worst_abs, e);
  INFO(what << ": max abs err " << e << ", max elementwise rel err " << pure << ", allclose ratio " << r);
  CHECK(r <= 1.0);
  return r;
}
}  // namespace

TEST_CASE("kotms: the (l, r) factor table") {
  auto g = test::load_golden("kotms_32x256");
  for (const auto& row : g.meta["scalars"]["lr_factor_table"]) {
    int64_t oc = row[0], ic = row[1], l = row[2], r = row[3];
    CAPTURE(oc, ic);
    KotmsFactors f = kotms_factors(oc, ic);
    CHECK(f.l == l);
    CHECK(f.r == r);
  }
}

TEST_CASE("kotms: Cayley factors and the rotated weight at given parameters") {
  auto g = test::load_golden("kotms_32x256");
  for (bool f64 : {true, false}) {
    CAPTURE(f64);
    auto dt = f64 ? at::kDouble : at::kFloat;
    std::string p = f64 ? "fwd.f64." : "fwd.f32.";
    Tensor W = g.f64("W").to(dt), Sr = g.f64("S_r_init").to(dt), Sl = g.f64("S_l_init").to(dt);
    Tensor B = cayley(Sr), C = cayley(Sl);
    Tol t = tol_for(f64, false);
    check(p + "B", B, g.t(p + "B"), t);
    check(p + "C", C, g.t(p + "C"), t);
    check(p + "W_rot", kron_rotate(W, C, B), g.t(p + "W_rot"), t);
    // Orthogonal to working precision.
    CHECK(max_abs(B.t().mm(B) - at::eye(8, B.options())) < (f64 ? 1e-12 : 1e-5));
  }
}

TEST_CASE("kotms: Adam runs match the reference step by step") {
  auto g = test::load_golden("kotms_32x256");
  const auto& runs = g.meta["scalars"]["runs"];
  for (auto it = runs.begin(); it != runs.end(); ++it) {
    const std::string name = it.key();
    const auto& run = it.value();
    CAPTURE(name);
    const bool f64 = run["dtype"] == "torch.float64";
    KotmsConfig cfg;
    cfg.steps = run["iters"];
    cfg.lr_r = run["hyperparameters"]["lr_r"];
    cfg.lr_l = run["hyperparameters"]["lr_l"];
    cfg.sigma0 = run["hyperparameters"]["s0"];
    cfg.sigma1 = run["hyperparameters"]["s1"];
    cfg.balance_w = run["hyperparameters"]["bw"];
    cfg.dtype = f64 ? "float64" : "float32";
    const bool given = run["init"] == "given";
    Tensor W = g.f64("W");
    if (!f64) W = W.to(at::kFloat);  // the reference's W.astype(float32)
    KotmsResult r = kotms_train(W, cfg, given ? g.f64("S_r_init") : Tensor(),
                                given ? g.f64("S_l_init") : Tensor(), true);
    CHECK(r.l == 32);
    CHECK(r.r == 8);
    Tensor losses = g.f64(name + ".losses");
    REQUIRE(int64_t(r.losses.size()) == losses.size(0) + 1);
    const double loss_rtol = f64 ? 1e-10 : 1e-4;
    double worst_loss = 0;
    for (int64_t t = 0; t < losses.size(0); ++t) {
      double e = rel_err(r.losses[size_t(t)], losses[t].item<double>());
      worst_loss = std::max(worst_loss, e);
      CAPTURE(t, r.losses[size_t(t)], losses[t].item<double>());
      CHECK(e <= loss_rtol);
    }
    Tol ts = tol_for(f64, true);
    double worst = 0;
    g_worst_elem_rel = g_worst_abs = 0;
    for (int64_t t = 0; t < int64_t(r.trace.size()); ++t) {
      std::string p = name + ".step" + std::to_string(t) + ".";
      if (!g.has(p + "S_r")) break;
      worst = std::max(worst, check(p + "grad_S_r", r.trace[size_t(t)].grad_P_r, g.t(p + "grad_S_r"), ts));
      worst = std::max(worst, check(p + "grad_S_l", r.trace[size_t(t)].grad_P_l, g.t(p + "grad_S_l"), ts));
      worst = std::max(worst, check(p + "S_r", r.trace[size_t(t)].P_r, g.t(p + "S_r"), ts));
      worst = std::max(worst, check(p + "S_l", r.trace[size_t(t)].P_l, g.t(p + "S_l"), ts));
    }
    worst = std::max(worst, check(name + ".B", r.B, g.t(name + ".B"), ts));
    worst = std::max(worst, check(name + ".C", r.C, g.t(name + ".C"), ts));
    worst = std::max(worst, check(name + ".W_rot", r.W_rot, g.t(name + ".W_rot"), ts));
    std::cout << "kotms golden " << name << ": worst loss rel err " << worst_loss << " (tol "
              << loss_rtol << "), worst allclose ratio " << worst << " (rtol " << ts.rtol
              << "), max abs err " << g_worst_abs << ", max elementwise rel err " << g_worst_elem_rel
              << ", " << r.seconds << " s\n";
  }
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
