// allocators/ila_amp_dp.cpp: see ila_amp_dp.h. The loop order and comparisons follow the
// reference on purpose: they decide ties, and the golden case checks bits exactly.
#include "allocators/ila_amp_dp.h"

#include <cmath>

#include "core/error.h"

namespace twla {

int ila_amp_budget(double avg_bits, int n_blocks) {
  return int(std::nearbyint(avg_bits * n_blocks));   // default rounding mode: half to even
}

Table3 ila_amp_interaction(const Table2& delta1, const Table3& pair_nll, double base_nll) {
  const size_t L = delta1.size();
  TWLA_ASSERT(L >= 1 && pair_nll.size() == L - 1);
  Table3 k = pair_nll;
  for (size_t i = 1; i < L; ++i)
    for (size_t bp = 0; bp < delta1[i - 1].size(); ++bp)
      for (size_t b = 0; b < delta1[i].size(); ++b)
        k[i - 1][bp][b] = (pair_nll[i - 1][bp][b] - base_nll) - delta1[i - 1][bp] - delta1[i][b];
  return k;
}

DpResult ila_amp_dp(const Table2& delta1, const Table3& k, const std::vector<int>& abits,
                    int budget, double beta) {
  constexpr double kInf = 1e18;
  const int L = int(delta1.size()), B = int(abits.size());
  TWLA_ASSERT(L >= 1 && B >= 1 && int(k.size()) == L - 1);
  const int C = std::max(budget, 0) + 1;
  // dp[i][c][kb]: the best cost of blocks 0..i using c bits with block i at abits[kb].
  std::vector<double> dp(size_t(L) * C * B, kInf);
  std::vector<int> prev(size_t(L) * C * B, -1);
  auto at = [&](int i, int c, int kb) { return (size_t(i) * C + size_t(c)) * B + size_t(kb); };
  for (int kb = 0; kb < B; ++kb)
    if (abits[size_t(kb)] <= budget) dp[at(0, abits[size_t(kb)], kb)] = delta1[0][size_t(kb)];
  for (int i = 1; i < L; ++i)
    for (int c = 0; c < C; ++c)
      for (int kb = 0; kb < B; ++kb) {
        const int rest = c - abits[size_t(kb)];
        if (rest < 0) continue;
        for (int kbp = 0; kbp < B; ++kbp) {
          const double p = dp[at(i - 1, rest, kbp)];
          if (p >= kInf / 2) continue;
          const double val = p + delta1[size_t(i)][size_t(kb)] +
                             beta * k[size_t(i - 1)][size_t(kbp)][size_t(kb)];
          if (val < dp[at(i, c, kb)]) {
            dp[at(i, c, kb)] = val;
            prev[at(i, c, kb)] = kbp;
          }
        }
      }
  DpResult r;
  double best = kInf;
  int best_c = -1, best_kb = -1;
  for (int c = 0; c < C; ++c)
    for (int kb = 0; kb < B; ++kb)
      if (dp[at(L - 1, c, kb)] < best) best = dp[at(L - 1, c, kb)], best_c = c, best_kb = kb;
  if (best_c < 0) {   // infeasible: what the reference returns, flagged
    r.bits.assign(size_t(L), 0);
    r.bits.back() = abits[0];
    r.best_val = kInf;
    r.used_budget = 0;
    r.feasible = false;
    return r;
  }
  r.bits.assign(size_t(L), 0);
  int c = best_c, kb = best_kb;
  for (int i = L - 1; i >= 0; --i) {
    r.bits[size_t(i)] = abits[size_t(kb)];
    const int kbp = prev[at(i, c, kb)];
    c -= abits[size_t(kb)];
    kb = kbp;
  }
  r.best_val = best;
  r.used_budget = best_c;
  return r;
}

}  // namespace twla
