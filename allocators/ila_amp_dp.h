// allocators/ila_amp_dp.h: the table -> bits part of ILA-AMP (ALGORITHMS.md 5): the pairwise
// interaction table and the order-2 dynamic programme over blocks, as the reference computes them
// (REFERENCE_NOTES.md 4: banker's rounding of the budget, strict-< first minimum, the final scan
// c ascending then kb ascending, the silent all-zero result on an infeasible budget).
// Not here: measuring the NLL tables (ila_amp_measure.h), the plugin (ila_amp.cpp).
// Source: TWLA reference run_twla.py:build_pairwise_interaction, dp_allocate_bits_order2;
// golden case ila_amp_dp_L6.
#pragma once
#include <vector>

namespace twla {

using Table2 = std::vector<std::vector<double>>;                 // [L][B]
using Table3 = std::vector<std::vector<std::vector<double>>>;    // [L-1][B][B]

// round(avg * L) half to even, as Python's round (22.5 -> 22, 23.5 -> 24).
int ila_amp_budget(double avg_bits, int n_blocks);

// k[i-1][kbp][kb] = (pair_nll[i-1][kbp][kb] - base) - delta1[i-1][kbp] - delta1[i][kb], i = 1..L-1.
Table3 ila_amp_interaction(const Table2& delta1, const Table3& pair_nll, double base_nll);

struct DpResult {
  std::vector<int> bits;   // per block; the reference's [0,...,0, abits[0]] when infeasible
  double best_val = 0;     // sum delta1 + beta * sum k; 1e18 when infeasible
  int used_budget = 0;     // sum of bits (0 when infeasible)
  bool feasible = true;
};

// Minimizes sum_i delta1[i][b_i] + beta * sum_{i>=1} k[i-1][b_{i-1}][b_i] subject to
// sum_i abits[b_i] <= budget. abits order matters for ties (the first wins).
DpResult ila_amp_dp(const Table2& delta1, const Table3& k, const std::vector<int>& abits,
                    int budget, double beta);

}  // namespace twla
