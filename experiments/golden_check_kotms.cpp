// experiments/golden_check_kotms.cpp: golden checks of KOTMS (kotms_*): the (l, r) factor table,
// the Cayley factors and rotated weight at given parameters, and every Adam run in
// scalars.runs step by step (losses, gradients, parameters, final B, C, W_rot).
// Tolerances: the sidecar's (f64 rtol 1e-9 forward, 1e-8 after steps, losses 1e-10; f32 rtol 1e-4
// atol 1e-6): an f64 atol of 0 cannot absorb round-off on entries ~0 by cancellation, so those
// use atol = rtol * max|expected|. tests/rotations/test_kotms.cpp calls these, part by part.
#include <cmath>
#include <string>

#include "experiments/golden_check.h"
#include "rotations/kotms.h"

namespace twla::golden {

namespace {
struct Tol {
  double rtol, atol;
};
Tol tol_for(bool f64, bool after_steps) {
  if (!f64) return {1e-4, 1e-6};
  return {after_steps ? 1e-8 : 1e-9, 0.0};
}
void allclose(Checks& c, const std::string& what, const Tensor& got, const Tensor& want, Tol t) {
  const double atol = t.atol > 0 ? t.atol : t.rtol * max_abs(want.to(at::kDouble));
  c.close(what, got, want, t.rtol, atol);
}
}  // namespace

void check_kotms_factors(const Case& g, Checks& c) {
  const auto& sc = g.scalars();
  if (sc.contains("lr_factor_table")) {
    for (const auto& row : sc.at("lr_factor_table")) {
      const int64_t oc = row[0], ic = row[1], l = row[2], r = row[3];
      KotmsFactors f = kotms_factors(oc, ic);
      c.exact("factors of " + std::to_string(oc) + "x" + std::to_string(ic), f.l == l && f.r == r,
              "(" + std::to_string(f.l) + ", " + std::to_string(f.r) + ") vs (" +
                  std::to_string(l) + ", " + std::to_string(r) + ")");
    }
  }
}

void check_kotms_forward(const Case& g, Checks& c) {
  for (bool f64 : {true, false}) {
    const std::string p = f64 ? "fwd.f64." : "fwd.f32.";
    if (!g.has(p + "B")) continue;
    auto dt = f64 ? at::kDouble : at::kFloat;
    Tensor W = g.f64("W").to(dt), Sr = g.f64("S_r_init").to(dt), Sl = g.f64("S_l_init").to(dt);
    Tensor B = cayley(Sr), C = cayley(Sl);
    Tol t = tol_for(f64, false);
    allclose(c, p + "B", B, g.t(p + "B"), t);
    allclose(c, p + "C", C, g.t(p + "C"), t);
    allclose(c, p + "W_rot", kron_rotate(W, C, B), g.t(p + "W_rot"), t);
    // Orthogonal to working precision (max |F^T F - I| of 1e-12 in f64, 1e-5 in f32).
    const double orth = f64 ? 1e-12 : 1e-5;
    c.ratio(p + "B orthogonal", max_abs(B.t().mm(B) - at::eye(B.size(0), B.options())) / orth);
    c.ratio(p + "C orthogonal", max_abs(C.t().mm(C) - at::eye(C.size(0), C.options())) / orth);
  }
}

void check_kotms_runs(const Case& g, Checks& c) {
  const int64_t hl = g.hp().value("l", int64_t(0)), hr = g.hp().value("r", int64_t(0));
  const auto& runs = g.scalars().at("runs");
  for (auto it = runs.begin(); it != runs.end(); ++it) {
    const std::string name = it.key();
    const auto& run = it.value();
    const bool f64 = run.at("dtype") == "torch.float64";
    const auto& rh = run.at("hyperparameters");
    KotmsConfig cfg;
    cfg.steps = run.at("iters");
    cfg.lr_r = rh.at("lr_r");
    cfg.lr_l = rh.at("lr_l");
    cfg.sigma0 = rh.at("s0");
    cfg.sigma1 = rh.at("s1");
    cfg.balance_w = rh.at("bw");
    cfg.dtype = f64 ? "float64" : "float32";
    const bool given = run.at("init") == "given";
    Tensor W = g.f64("W");
    if (!f64) W = W.to(at::kFloat);   // the reference's W.astype(float32)
    KotmsResult r = kotms_train(W, cfg, given ? g.f64("S_r_init") : Tensor(),
                                given ? g.f64("S_l_init") : Tensor(), true);
    if (hl > 0 && hr > 0)
      c.exact(name + " (l, r)", r.l == hl && r.r == hr,
              "(" + std::to_string(r.l) + ", " + std::to_string(r.r) + ")");
    Tensor losses = g.f64(name + ".losses");
    c.exact(name + " number of losses", int64_t(r.losses.size()) == losses.size(0) + 1);
    const double loss_rtol = f64 ? 1e-10 : 1e-4;
    for (int64_t s = 0; s < losses.size(0) && s < int64_t(r.losses.size()); ++s)
      c.scalar(name + ".losses[" + std::to_string(s) + "]", r.losses[size_t(s)],
               losses[s].item<double>(), loss_rtol);
    Tol ts = tol_for(f64, true);
    for (int64_t s = 0; s < int64_t(r.trace.size()); ++s) {
      const std::string p = name + ".step" + std::to_string(s) + ".";
      if (!g.has(p + "S_r")) break;
      const auto& st = r.trace[size_t(s)];
      allclose(c, p + "grad_S_r", st.grad_P_r, g.t(p + "grad_S_r"), ts);
      allclose(c, p + "grad_S_l", st.grad_P_l, g.t(p + "grad_S_l"), ts);
      allclose(c, p + "S_r", st.P_r, g.t(p + "S_r"), ts);
      allclose(c, p + "S_l", st.P_l, g.t(p + "S_l"), ts);
    }
    allclose(c, name + ".B", r.B, g.t(name + ".B"), ts);
    allclose(c, name + ".C", r.C, g.t(name + ".C"), ts);
    allclose(c, name + ".W_rot", r.W_rot, g.t(name + ".W_rot"), ts);
  }
}

void check_kotms(const Case& g, Checks& c) {
  check_kotms_factors(g, c);
  check_kotms_forward(g, c);
  check_kotms_runs(g, c);
}

}  // namespace twla::golden
