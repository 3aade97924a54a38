// allocators/ila_amp_cost.h: the cost model of the ILA-AMP measurements (ila_amp_measure.h), in
// block forwards and heads, and the wall-time ratio naive / cached it predicts (docs/PERFORMANCE.md
// "ILA-AMP allocation search" derives it). With L blocks and B' non-baseline candidates there are
// N = 1 + B'L + B'^2 (L-1) evaluations; every evaluation runs one head (final norm, lm_head, NLL)
// in both searches.
//   naive:  N (e + L (c + l) + h)               (e: embedding, c: one block forward, h: one head,
//                                                l: materializing one block: its weights as fp32)
//   cached: e + L (c + l) + h  (the baseline pass, serial, filling the cache)
//           + [(C - L) c + (N - 1) h + (G - L) l] / W   (the groups on W workers)
//   C = L + B'L(L+1)/2 + B'^2 L(L-1)/2: every evaluation that first differs at block s runs blocks
//   s..L-1 only, and block s at b' is shared by the single (s, b') and the B' pairs starting at s;
//   G = L + B'L(L+1)/2: a group's evaluations advance together, so it loads blocks s..L-1 once.
// So with eta = (e + h) / c and l = 0, ratio(W = 1) = N (L + eta) / (C + N eta) -> 2 as L grows
// (the mean suffix is L/2); the loads' ratio N L / G -> 2 (1 + B'). ratio(W) is about W times
// ratio(1) while W cores are free.
// Not here: running the measurements (ila_amp_measure.h).
#pragma once
#include <cstdint>
#include <vector>

#include "allocators/ila_amp_measure.h"

namespace twla {

struct IlaAmpCost {
  int64_t evaluations = 0;     // N: heads, each way
  int64_t naive_blocks = 0;    // N L
  int64_t cached_blocks = 0;   // C: the baseline pass + shared first blocks + suffixes
  int64_t naive_loads = 0;     // block materializations: N L
  int64_t cached_loads = 0;    // G: the baseline pass + each group's blocks s..L-1
};

// Counted from the work list, the way measure_cached runs it.
IlaAmpCost ila_amp_cost(const std::vector<IlaAmpJob>& jobs, int n_blocks);
// The closed form above for L blocks and B' = non_baseline candidates.
IlaAmpCost ila_amp_cost_closed(int n_blocks, int non_baseline);

// Seconds of one embedding, one block forward and one head over the allocation set, and of
// materializing one block (Model::load_block).
struct IlaAmpUnitTimes {
  double embed_s = 0, block_s = 0, head_s = 0, load_s = 0;
};
// Predicted wall seconds of each search (naive on one worker; cached on `workers`, perfectly
// balanced, each on its own core), and their ratio.
double ila_amp_naive_seconds(const IlaAmpCost& c, int n_blocks, const IlaAmpUnitTimes& t);
double ila_amp_cached_seconds(const IlaAmpCost& c, int n_blocks, const IlaAmpUnitTimes& t, int workers);

}  // namespace twla
