// allocators/ila_amp_farm.h: farming ILA-AMP's evaluations out (issue 6): the work list of
// ila_amp_jobs() split into n shards that separate processes (Slurm array tasks) measure, and
// the shards' NLLs merged back into the whole list's, bit-identical to measuring it in one go.
//   - A job's id is its index in ila_amp_jobs() (base 0, then singles, then pairs): stable for a
//     given (L, candidates, baseline).
//   - Shards take whole groups of the cached search (the evaluations sharing block s at b',
//     ila_amp_measure.h), so the grouping still applies within a shard. Every shard runs the
//     baseline pass (it fills the cache) and so measures the base job too; merging checks that
//     all shards agree on it (they ran the same model on the same data).
//   - Balance: groups go, longest first (block forwards: 1 + (L-s-1) x evaluations), to the
//     least loaded shard (LPT). Then max load <= mean load + the longest group.
// Pure: no files (experiments/allocation_farm.h reads and writes shard results).
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "allocators/ila_amp_measure.h"

namespace twla {

struct IlaAmpShardPlan {
  int shards = 1;
  std::vector<int> shard_of;             // per job id: its shard; -1 for the base (every shard)
  std::vector<std::vector<int>> jobs;    // per shard: its job ids, ascending, base excluded
  std::vector<int64_t> blocks;           // per shard: predicted block forwards, baseline pass included
  std::vector<int64_t> job_blocks;       // per job id: block forwards it adds in the cached search
  int groups = 0;                        // groups of the cached search (the most shards that help)
};

// The groups of the cached search in the order measure_cached keeps them; Error when `shards` is
// < 1 or exceeds the groups (naming `what`, e.g. "--shard", and the largest useful count).
IlaAmpShardPlan ila_amp_shard_plan(const std::vector<IlaAmpJob>& jobs, int n_blocks, int shards,
                                   const std::string& what);

// What one shard measured.
struct IlaAmpShardResult {
  std::string key;            // whose NLLs (the allocation key of the run); stale ones are refused
  int shard = 0, shards = 1;  // k of n (0-based k)
  int64_t n_jobs = 0;         // the whole work list's size
  std::vector<int> jobs;      // job ids measured, the plan's order
  std::vector<double> nll;    // per entry of jobs
  double base_nll = 0;        // job 0 (every shard's baseline pass)
  std::string file;           // where it came from (errors name it); empty when in process
};

// Measures shard k of the plan with the cached search on `workers` threads: the base job and
// the shard's jobs, as measure_cached would within the whole list.
IlaAmpShardResult ila_amp_measure_shard(const NllEvaluator& ev, const std::vector<IlaAmpJob>& jobs,
                                        const IlaAmpShardPlan& plan, int k, int workers,
                                        const std::string& key);

// Checks one shard result against the plan and key; Error naming r.file (or "shard k of n") with
// what is wrong (stale key, other work list, other shard split, wrong job ids, non-finite NLL).
void check_ila_amp_shard(const IlaAmpShardResult& r, const IlaAmpShardPlan& plan, size_t n_jobs,
                         const std::string& key);

// The NLL of every job from one result per shard (any order; each checked as above); Error
// naming the missing shard or the shard whose base NLL differs from shard 0's.
std::vector<double> ila_amp_merge_shards(const std::vector<IlaAmpShardResult>& results,
                                         const IlaAmpShardPlan& plan, size_t n_jobs,
                                         const std::string& key);

// How a run farms the evaluations out (AllocationContext::ila_amp_farm; the run dir's shard files:
// experiments/allocation_farm.h). `shards`: the allocator's setting (0 = whatever the run dir
// holds); `in_process`: the whole list measured here, as the allocator's search would.
class IlaAmpFarm {
 public:
  virtual ~IlaAmpFarm() = default;
  // The NLL of every job, or nothing when this process only measures and stores one shard.
  virtual std::optional<std::vector<double>> measure(
      const NllEvaluator& ev, const std::vector<IlaAmpJob>& jobs, int n_blocks, int shards,
      int workers, const std::function<std::vector<double>()>& in_process) const = 0;
};

}  // namespace twla
