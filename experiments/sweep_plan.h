// experiments/sweep_plan.h: a sweep made concrete on disk, what the runners (local pool, Slurm
// array) execute. `twla sweep plan|run` expands the descriptor and writes
//   <output>/.sweep/plan.tsv          index, run id, name, run folder (one line per run)
//   <output>/.sweep/runs/<i>.yaml     run i's resolved descriptor: `twla run` on it is the run
//   <output>/.sweep/logs/<i>.log      run i's stdout+stderr (every attempt, appended)
//   <output>/.sweep/exit/<i>          local runner: run i's last exit status
//   <output>/.sweep/slurm/...         Slurm runner: array scripts and the jobs submitted
// A run is done when <run folder>/DONE holds its run id (the pipeline writes it after results.h5).
// Not here: executing runs (runner_local.h, runner_slurm.h).
#pragma once
#include <map>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace twla {

struct PlannedRun {
  int index = 0;
  std::string id, name, run_dir;
  std::string descriptor;   // the per-run YAML file (absolute)
};

struct SweepPlan {
  std::string name;        // the descriptor's name
  std::string dir;         // <output>/.sweep (absolute)
  std::vector<PlannedRun> runs;
  YAML::Node slurm;        // the descriptor's `slurm:` block (may be null)
};

// Expands descriptor + overrides, resolves every run (checking its fields) and writes the plan
// files (atomically; the same descriptor rewrites identical files). Output folders are made
// absolute so runs do not depend on the working directory of whoever executes them.
SweepPlan write_plan(const std::string& descriptor, const std::vector<std::string>& overrides);

// Run states as `twla sweep status` prints them.
inline constexpr const char* kDone = "done";
inline constexpr const char* kMissing = "missing";   // never started, or no trace of it
bool run_done(const PlannedRun& r);                  // DONE holds this run id

// The indices of runs in `plan` that are not done and whose state (from a runner) is not in
// `active` (pending/running states keep a run from being resubmitted).
std::vector<int> runs_to_resume(const SweepPlan& plan, const std::map<int, std::string>& states);

// One line per run: index, run id, state, name (states: index -> text; absent = done/missing).
std::string format_status(const SweepPlan& plan, const std::map<int, std::string>& states);

}  // namespace twla
