// experiments/pipeline.h: one run, start to finish (DESIGN_SKETCH.md "One run"): load the model,
// rotate, quantize weights, allocate activation bits, evaluate, write results.h5 atomically.
// A run whose results.h5 already holds the same run id is not recomputed (Slurm requeue and
// re-running a killed sweep are harmless); after results.h5, a DONE file holding the run id is
// written (what sweep runners poll). Stages go through the stage cache (pipeline_cache.h).
#pragma once
#include <string>

#include "experiments/descriptor.h"
#include "results/run_record.h"

namespace twla {

struct RunOptions {
  bool force = false;   // recompute even if results.h5 with this run id exists
  bool quiet = false;   // no per-stage log lines
  // Stage cache folder: "" = $TWLA_CACHE or <output>/.cache; "off" = none (stage_cache.h).
  std::string cache_dir;
  // `twla allocate --shard k/n`: measure shard alloc_shard (0-based) of alloc_shards of ila-amp's
  // evaluations into <run dir>/allocation (experiments/allocation_farm.h), then stop: no weights
  // stage (the rotation only: rotation_cache.h), no allocation, no eval, results.h5 and DONE
  // untouched. -1 = a whole run.
  int alloc_shard = -1, alloc_shards = 0;
};

// tree: a descriptor tree after includes/overrides (and sweep expansion).
RunRecord run_experiment(const YAML::Node& tree, const RunOptions& opt = {});

// The folder a run writes to: <output>/<name>.
std::string run_dir_of(const Descriptor& d);

}  // namespace twla
