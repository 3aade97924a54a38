// allocators/ila_amp_measure.h: the NLL measurements of ILA-AMP (ALGORITHMS.md 5): the baseline
// (every block at the baseline width), every single change (block i at b) and every adjacent pair
// (block i-1 at b', block i at b), as mean token NLL on an allocation set; then the delta1 and
// pair tables with the reference's rules for baseline entries (REFERENCE_NOTES.md 4).
// Two ways to measure, which must give the same numbers:
//   naive:  every evaluation runs the whole model (final_hidden, as the run's evaluation does);
//   cached: the hidden states entering each block at the baseline are computed once; the
//           evaluations that first differ at block s start from the state entering s and run only
//           the suffix. Block s at b' is run once and shared by the single (s, b') and the pairs
//           (s at b', s+1 at b). Groups are independent and run on `workers` threads; on a
//           cluster, shards of whole groups are separate tasks (ila_amp_farm.h).
// Cost model (block forwards, heads, predicted wall-time ratio): ila_amp_cost.h.
// Not here: the DP (ila_amp_dp.h), the plugin and its data (ila_amp.cpp), shards (ila_amp_farm.h).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "allocators/ila_amp_dp.h"
#include "core/model.h"

namespace twla {

struct IlaAmpJob {
  enum Kind { kBase, kSingle, kPair } kind = kBase;
  int block = -1;         // single: the changed block; pair: the second block (i >= 1)
  int kb = -1, kbp = -1;  // indices into the candidates: block `block` at kb, block-1 at kbp
  int start = 0;          // first block whose input differs from the baseline run
  std::vector<int> bits;  // per block
};

// The work list, base first, then singles (block, kb), then pairs (block, kbp, kb); baseline
// entries are not measured (the tables fill them from the base and the singles).
std::vector<IlaAmpJob> ila_amp_jobs(int n_blocks, const std::vector<int>& abits, int baseline);

struct IlaAmpTables {
  double base_nll = 0;
  Table2 delta1;      // [L][B]
  Table3 pair_nll;    // [L-1][B][B]
};
// From the NLL of every job (same order as ila_amp_jobs).
IlaAmpTables ila_amp_tables(int n_blocks, const std::vector<int>& abits, int baseline,
                            const std::vector<IlaAmpJob>& jobs, const std::vector<double>& nll);

// How to evaluate: the model, the allocation windows [N, T] int64, windows per forward, and the
// linear ops that run a per-block bit vector.
struct NllEvaluator {
  const Model* model = nullptr;
  Tensor windows;
  int batch = 4;
  std::function<std::unique_ptr<LinearOps>(const std::vector<int>& bits)> ops;
};

// Mean token NLL with the whole model at `bits` (the naive evaluation of one job).
double full_nll(const NllEvaluator& ev, const std::vector<int>& bits);

// Both run every evaluation at one intra-op thread (libtorch's and OpenBLAS's results depend on
// the thread count), on `workers` threads (<= 1: this one), so any worker count of either gives
// bit-identical NLLs. full_nll runs at the caller's thread count.
// NLL of every job, naive: one full evaluation each.
std::vector<double> measure_naive(const NllEvaluator& ev, const std::vector<IlaAmpJob>& jobs,
                                  int workers);
// NLL of every job, cached (see the top of this file).
std::vector<double> measure_cached(const NllEvaluator& ev, const std::vector<IlaAmpJob>& jobs,
                                   int workers);

}  // namespace twla
