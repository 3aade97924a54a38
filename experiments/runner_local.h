// experiments/runner_local.h: the local backend of `twla sweep`: a bounded pool of worker
// processes, each one `twla run <.sweep/runs/i.yaml>` (a separate process per run, so a crash or a
// kill -9 takes one run with it, never the pool's bookkeeping or a finished run). Each worker's
// output is appended to .sweep/logs/<i>.log; .sweep/exit/<i> holds "running <pid>" while it runs,
// then "exit N" or "signal N". Not here: the plan (sweep_plan.h), Slurm (runner_slurm.h).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "experiments/sweep_plan.h"

namespace twla {

struct LocalOptions {
  int workers = 1;                  // runs at once
  std::string twla;                 // the twla binary
  std::vector<std::string> extra;   // arguments after `run <descriptor>` (--data-dir, --cache)
  bool quiet = false;               // no per-run lines on stderr
};

// Runs the runs with these indices, at most o.workers at a time; returns how many failed.
int run_local(const SweepPlan& plan, const std::vector<int>& indices, const LocalOptions& o);

// index -> "running", "failed (exit N)", "failed (signal N)", "failed (interrupted)" for runs the
// local runner started and that are not done; others are absent.
std::map<int, std::string> local_states(const SweepPlan& plan);

}  // namespace twla
