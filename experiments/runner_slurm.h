// experiments/runner_slurm.h: the Slurm backend of `twla sweep`: one sbatch job array per
// submission (array index = run index of the plan), each task `twla run .sweep/runs/<i>.yaml`.
// Submissions are recorded in .sweep/slurm/jobs.tsv (job id, indices) beside their scripts;
// states come from DONE markers first, then squeue (pending/running), then sacct where the
// cluster keeps accounting; a run that left the queue without DONE counts as failed, so
// `twla sweep resume` resubmits exactly the failed and missing runs.
// Not here: the plan (sweep_plan.h), the local pool (runner_local.h).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "core/fields.h"
#include "experiments/sweep_plan.h"

namespace twla {

// The descriptor's `slurm:` block; flags of `twla sweep` override it. Empty/0 = not requested
// (the cluster's default).
struct SlurmSpec {
  std::string partition, time, mem, account, qos;
  int cpus_per_task = 0;
  int gpus = 0;
  int max_parallel = 0;                 // array throttle (%N); 0 = no limit
  std::vector<std::string> sbatch_args; // more `#SBATCH` options, e.g. --constraint=a100
  template <class V> void visit(V& v) {
    v("partition", partition, "sbatch --partition");
    v("time", time, "sbatch --time (e.g. 04:00:00)");
    v("mem", mem, "sbatch --mem (e.g. 64G)");
    v("account", account, "sbatch --account");
    v("qos", qos, "sbatch --qos");
    v("cpus_per_task", cpus_per_task, "sbatch --cpus-per-task; 0 = cluster default");
    v("gpus", gpus, "sbatch --gpus per run; 0 = none");
    v("max_parallel", max_parallel, "array tasks at once (--array=...%N); 0 = no limit");
    v("sbatch_args", sbatch_args, "more #SBATCH options, one per item");
  }
};

SlurmSpec parse_slurm_spec(const YAML::Node& block);   // errors name slurm.<field>

// The array script (pure): `command` is the worker command line before the descriptor path.
// after: job ids that must finish successfully first (--dependency=afterok:..., and the task is
// cancelled when one fails, so `twla sweep status` calls it failed and resume resubmits it).
std::string sbatch_script(const SweepPlan& plan, const std::vector<int>& indices,
                          const SlurmSpec& spec, const std::vector<std::string>& command,
                          const std::vector<std::string>& extra, const std::string& workdir,
                          const std::vector<std::string>& after = {});

// Writes the script, submits it with `sbatch --parsable`, records the job; returns the job id.
// Error naming sbatch's message (and the fix) when submission fails.
std::string slurm_submit(const SweepPlan& plan, const std::vector<int>& indices,
                         const SlurmSpec& spec, const std::string& twla,
                         const std::vector<std::string>& extra,
                         const std::vector<std::string>& after = {});

// ILA-AMP's evaluations farmed out (allocation_shards: experiments/allocation_farm.h).
// The shard array of run `index` (pure): task k runs `twla allocate <runs/index.yaml> --shard k/n`.
std::string shard_sbatch_script(const SweepPlan& plan, int index, int shards, const SlurmSpec& spec,
                                const std::string& twla, const std::vector<std::string>& extra,
                                const std::string& workdir);
// Submits one shard array per run in `indices` that asks for shards (recorded in
// slurm/shards.tsv: job id, run index, shards); returns their job ids, for slurm_submit's `after`.
std::vector<std::string> slurm_submit_shards(const SweepPlan& plan, const std::vector<int>& indices,
                                             const SlurmSpec& spec, const std::string& twla,
                                             const std::vector<std::string>& extra);

// index -> "pending", "running", "failed (STATE)" for runs submitted and not done.
std::map<int, std::string> slurm_states(const SweepPlan& plan);
// Job ids of this sweep still in the queue (pending or running).
std::vector<std::string> slurm_live_jobs(const SweepPlan& plan);

// Runs a command through the shell; stdout (and stderr) into *out; returns the exit status.
int run_capture(const std::string& cmd, std::string* out);
std::string shell_quote(const std::string& s);

}  // namespace twla
