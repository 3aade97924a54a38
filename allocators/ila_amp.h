// allocators/ila_amp.h: the `ila-amp` allocator plugin (TWLA, ALGORITHMS.md 5): measure the NLL
// tables on the rotated full-precision model (ila_amp_measure.h), allocate bits by the order-2 DP
// (ila_amp_dp.h), then search each linear's clip at its block's width (lac_model.h).
// A thin shell: fields, checks, data, wiring, results.
#pragma once
#include "allocators/allocator.h"
#include "allocators/lac_model.h"

namespace twla {

struct IlaAmpConfig {
  std::vector<int> candidates{2, 4, 6, 8};
  int baseline = 8;
  double beta = 0.5;
  int budget = -1;
  std::string allocation_data = "c4";
  int allocation_windows = 16;
  int allocation_seqlen = 0;
  std::string search = "cached";
  int workers = 0;
  int shards = 0;
  std::string clip = "lac";
  LacConfig lac;
  template <class V> void visit(V& v) {
    v("candidates", candidates, "activation bit widths a block may get (order breaks ties)");
    v("baseline", baseline, "the width of every other block while one or two are measured");
    v("beta", beta, "weight of the adjacent-pair interaction in the DP");
    v("budget", budget, "total bits over blocks; -1 = round(activations.bits * L), half to even");
    v("allocation_data", allocation_data,
      "NLL set: c4 (held-out calibration-side documents), text:PATH, or wikitext2-test "
      "(the reference's choice: tunes on the test split; paper reproduction only)");
    v("allocation_windows", allocation_windows, "windows of the allocation set");
    v("allocation_seqlen", allocation_seqlen, "tokens per window; 0 = calibration.seqlen");
    v("search", search, "cached (suffix from cached block inputs, parallel) or naive (full runs)");
    v("workers", workers, "parallel evaluations; 0 = the run's threads");
    v("shards", shards,
      "split the evaluations into this many shards (twla allocate --shard k/n; Slurm: a job "
      "array before the run); 0 = none, or the shards found in the run dir");
    v("clip", clip, "lac (per-linear clip search at the chosen width) or fixed (activations.clip)");
    v("lac", lac, "LAC clip search");
  }
};

Registry<Allocator>::Entry ila_amp_entry();

// The allocation set of ila-amp: [windows, seqlen] int64 ids. Notes get a warning for
// wikitext2-test. Error naming `path`.allocation_data for an unknown source.
Tensor allocation_windows(const Tokenizer& tok, const std::string& data, int windows, int seqlen,
                          int seed, const std::string& path, std::vector<std::string>* notes);

}  // namespace twla
