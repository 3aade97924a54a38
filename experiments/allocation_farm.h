// experiments/allocation_farm.h: ILA-AMP's evaluations farmed out through the run dir (issue 6).
// `twla allocate DESCRIPTOR --shard k/n` measures shard k (1-based) of the work list and writes
// <run dir>/allocation/shard-k-of-n.json atomically, holding the allocation key (the run id less
// the shard count: allocation_key), so a shard of another
// descriptor is refused; the run's allocation stage (RunDirFarm) merges the shards it finds there
// and measures the missing ones in process (storing them too, so a killed run resumes).
// Shards always run the cached search; the merged NLLs equal the in-process ones bit for bit.
// The split itself, its balance and the merge checks: allocators/ila_amp_farm.h.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "allocators/ila_amp_farm.h"
#include "core/fields.h"

namespace twla {

// <run_dir>/allocation/shard-<k>-of-<n>.json, k 1-based.
std::string shard_file(const std::string& run_dir, int k, int n);
// The shard counts n that have at least one shard file in <run_dir>/allocation, ascending.
std::vector<int> shard_counts_in(const std::string& run_dir);

// JSON text of a shard result (NLLs with 17 significant digits: read back bit-identical).
std::string shard_json(const IlaAmpShardResult& r);
void write_shard(const std::string& file, const IlaAmpShardResult& r);   // atomic
// Error naming the file when it cannot be read or a field is missing or malformed.
IlaAmpShardResult read_shard(const std::string& file);

// The work list as JSON: every job (id, kind, blocks, bits, start, shard, predicted block
// forwards) and per shard its predicted block forwards, for `twla allocate --list`.
std::string work_list_json(const std::vector<IlaAmpJob>& jobs, const IlaAmpShardPlan& plan,
                           int n_blocks, const std::vector<int>& candidates, int baseline,
                           const std::string& key);

// What a shard result is keyed by: the run id of the resolved descriptor without
// activations.allocator.shards (how the work is split never changes an NLL), so a run that
// changes only its shard count still reads the shards measured before.
std::string allocation_key(const YAML::Node& resolved);

// activations.allocator.shards of a resolved descriptor when its allocator is ila-amp, else 0.
int allocation_shards(const YAML::Node& resolved);

// `twla allocate --list`: the work list of one run's tree (after includes, overrides, sweep
// expansion) split into `shards` (0 = activations.allocator.shards, or 1); reads only the model's
// config.json. Error naming activations.allocator when it is not ila-amp.
std::string allocation_work_list(const YAML::Node& tree, int shards);

// The run's farm: shard files of run id `key` in `run_dir`. only_shard >= 0 (0-based, of
// only_of): measure that shard, store it, and give no NLLs (twla allocate --shard).
class RunDirFarm : public IlaAmpFarm {
 public:
  RunDirFarm(std::string run_dir, std::string key, int only_shard, int only_of,
             std::function<void(const std::string&)> log);
  std::optional<std::vector<double>> measure(
      const NllEvaluator& ev, const std::vector<IlaAmpJob>& jobs, int n_blocks, int shards,
      int workers, const std::function<std::vector<double>()>& in_process) const override;

 private:
  std::string dir_, key_;
  int only_shard_, only_of_;
  std::function<void(const std::string&)> log_;
};

}  // namespace twla
