// experiments/golden_check_alloc.cpp: golden checks of the allocator algorithms: the ILA-AMP
// interaction table and DP (ila_amp_dp_*), and the per-layer LAC clip grid search (lac_search_*).
// Tolerances: each sidecar's `tolerances` (bits, used budget and best_p exact; k abs 1e-15;
// best_val abs 1e-12, 1e18 = infeasible; sse and best_mse rtol 1e-4; y rtol 1e-5 atol 1e-6).
// tests/allocators/test_{ila_amp_dp,lac}.cpp call these.
#include <cmath>

#include "allocators/ila_amp_dp.h"
#include "allocators/lac.h"
#include "experiments/golden_check.h"
#include "quantizers/act_quant.h"

namespace twla::golden {

namespace {
std::string ints(const std::vector<int>& v) {
  std::string s;
  for (int x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
  return s;
}
void check_dp_result(Checks& c, const std::string& what, const DpResult& r, const nlohmann::json& want) {
  const auto bits = want.at("bits").get<std::vector<int>>();
  c.exact(what + " bits", r.bits == bits, ints(r.bits) + " vs " + ints(bits));
  c.exact(what + " used_budget", r.used_budget == want.at("used_budget").get<int>());
  const double best = want.at("best_val").get<double>();
  c.ratio(what + " best_val (of 1e-12 abs)", std::abs(r.best_val - best) / 1e-12);
  c.exact(what + " feasible (reference best_val < 1e17)", r.feasible == (best < 1e17));
}
}  // namespace

void check_ila_amp_dp(const Case& g, Checks& c) {
  Tensor ab = g.t("abits").to(at::kLong), d1 = g.f64("delta1"), pn = g.f64("pair_nll");
  std::vector<int> abits;
  for (int64_t i = 0; i < ab.numel(); ++i) abits.push_back(int(ab[i].item<int64_t>()));
  const int L = int(d1.size(0)), B = int(d1.size(1));
  Table2 delta1(static_cast<size_t>(L), std::vector<double>(static_cast<size_t>(B)));
  Table3 pair(static_cast<size_t>(L - 1), Table2(static_cast<size_t>(B), std::vector<double>(static_cast<size_t>(B))));
  for (int i = 0; i < L; ++i)
    for (int b = 0; b < B; ++b) delta1[size_t(i)][size_t(b)] = d1[i][b].item<double>();
  for (int i = 0; i + 1 < L; ++i)
    for (int bp = 0; bp < B; ++bp)
      for (int b = 0; b < B; ++b) pair[size_t(i)][size_t(bp)][size_t(b)] = pn[i][bp][b].item<double>();
  const double base = g.scalars().at("base_nll").get<double>();
  Table3 k = ila_amp_interaction(delta1, pair, base);
  Tensor kt = at::empty({L - 1, B, B}, at::kDouble);
  for (int i = 0; i + 1 < L; ++i)
    for (int bp = 0; bp < B; ++bp)
      for (int b = 0; b < B; ++b) kt[i][bp][b] = k[size_t(i)][size_t(bp)][size_t(b)];
  c.ratio("k (of 1e-15 abs)", max_abs_diff(kt, g.f64("k")) / 1e-15);
  for (const auto& r : g.scalars().at("results")) {
    const double avg = r.at("avg_bit_budget").get<double>(), beta = r.at("beta").get<double>();
    const int budget = ila_amp_budget(avg, L);
    const std::string what = "avg " + std::to_string(avg).substr(0, 4) + " beta " + std::to_string(beta).substr(0, 3);
    c.exact(what + " budget", budget == r.at("budget_int").get<int>());
    check_dp_result(c, what, ila_amp_dp(delta1, k, abits, budget, beta), r);
  }
  if (g.scalars().contains("tie_probe_all_zero_tables")) {
    const auto& t = g.scalars().at("tie_probe_all_zero_tables");
    Table2 z1(static_cast<size_t>(L), std::vector<double>(static_cast<size_t>(B), 0.0));
    Table3 zk(static_cast<size_t>(L - 1), Table2(static_cast<size_t>(B), std::vector<double>(static_cast<size_t>(B), 0.0)));
    check_dp_result(c, "tie probe",
                    ila_amp_dp(z1, zk, abits, ila_amp_budget(t.at("avg_bit_budget").get<double>(), L),
                               t.at("beta").get<double>()),
                    t);
  }
}

void check_lac(const Case& g, Checks& c) {
  const auto& hp = g.hp();
  const double pmin = hp.at("LAC_PMIN").get<double>(), pmax = hp.at("LAC_PMAX").get<double>();
  const double step = hp.at("LAC_PSTEP").get<double>();
  const int n = int(std::ceil((pmax - pmin) / step));
  const auto grid = lac_grid(pmin, step, n);
  Tensor gt = at::empty({n}, at::kDouble);
  for (int i = 0; i < n; ++i) gt[i] = grid[size_t(i)];
  c.same("p_list", gt, g.f64("p_list"));
  Tensor W = g.f32("W"), bias = g.has("bias") ? g.f32("bias") : Tensor();
  std::vector<Tensor> xs;
  for (int i = 0; g.has("x" + std::to_string(i)); ++i) xs.push_back(g.f32("x" + std::to_string(i)));
  c.exact("calibration batches", !xs.empty());
  const double lac0 = hp.value("default_lac", 0.9);
  for (int bits : hp.at("abits").get<std::vector<int>>()) {
    const std::string key = "A" + std::to_string(bits);
    LacSearch s(bits, grid, /*compat_reference=*/true);
    AffineSpec spec;
    spec.bits = bits;
    spec.clip = lac0;
    spec.compat_reference = true;
    for (size_t i = 0; i < xs.size(); ++i) {
      s.add(xs[i], W, bias);
      const std::string yk = key + ".y" + std::to_string(i);
      if (!g.has(yk)) continue;
      Tensor y = at::matmul(act_fake_quant(xs[i], spec), W.t());
      if (bias.defined()) y = y + bias;
      c.close(yk, y, g.f32(yk), 1e-5, 1e-6);
    }
    Tensor sse = at::empty({n}, at::kDouble);
    for (int i = 0; i < n; ++i) sse[i] = s.sse()[size_t(i)];
    c.close(key + ".sse", sse, g.f64(key + ".sse"), 1e-4, 0);
    const auto& want = g.scalars().at("results").at(key);
    LacChoice ch = s.best(lac0);
    c.exact(key + " best_index", ch.index == want.at("best_index").get<int>(),
            std::to_string(ch.index) + " vs " + std::to_string(want.at("best_index").get<int>()));
    c.exact(key + " best_p", ch.clip == want.at("best_p").get<double>());
    c.exact(key + " count", s.count() == want.at("count").get<int64_t>());
    c.scalar(key + " best_mse", ch.mse, want.at("best_mse").get<double>(), 1e-4);
  }
}

}  // namespace twla::golden
