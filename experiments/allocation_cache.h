// experiments/allocation_cache.h: a measuring allocator's result (ILA-AMP: act bits per block,
// clip per linear, and its report: delta/pair tables, notes, timings) in the StageCache, so a run
// that differs only in what it evaluates (tasks, windows, backend) or in how the search is run
// (search, workers, shards: bit-identical by test) does not measure the allocation again.
// Key: the weights key (model + files, quantizer, rotation, compat, calibration where calibrated),
// activations (less search/workers/shards), compat, calibration (+ the documents' sha256),
// eval.batch, and the sha256 of ILA-AMP's allocation_data file. Only for measuring allocators
// (pipeline_cache.h measuring_allocator); uniform is recomputed (cheap).
// Not here: the allocators (allocators/), the cache (stage_cache.h).
#pragma once
#include <yaml-cpp/yaml.h>

#include <string>

#include "allocators/allocator.h"
#include "experiments/stage_cache.h"

namespace twla {

YAML::Node allocation_deps(const std::string& weights_key, const YAML::Node& resolved);
// False on a miss (nothing set).
bool cache_load_allocation(const StageCache& c, const YAML::Node& deps, Allocation* a, AllocationReport* r);
void cache_save_allocation(const StageCache& c, const YAML::Node& deps, const Allocation& a,
                           const AllocationReport& r);

}  // namespace twla
