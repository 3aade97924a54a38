// experiments/pipeline_cache.h: what each stage of a run keeps in the StageCache, and exactly
// what its key depends on (docs/SWEEPS.md "Stage cache"):
//   weights   model (+ file hashes), quantizer, rotation, compat; calibrated quantizers also
//             calibration (+ data file hash) and eval.batch (the calibration forward's batch)
//   rotation  model (+ file hashes), rotation, compat: a rotation's learned state (KOTMS trains on
//             each weight alone, never on calibration data; rotation_cache.h)
//   fp_hidden model (+ file hashes), dataset (+ file hash), eval.seqlen, windows, eval.batch
//   eval      the weights key, activations (bits, clip, allocator), compat, backend, one task and the
//             eval fields that task reads (+ its data file hash); with a measuring allocator
//             (not uniform) also calibration and eval.batch
//   allocation  measuring allocators (ILA-AMP): experiments/allocation_cache.h; uniform is
//             recomputed; either way the allocation reaches the eval key through `activations`.
// Not here: the cache itself (stage_cache.h).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "experiments/stage_cache.h"
#include "experiments/weights.h"

namespace twla {

// Bump when a stage's numerics or stored format change, so older entries stop matching.
inline constexpr int kStageCacheVersion = 1;

// resolved: the run's resolved descriptor; model_sha256: "model/<file>" -> hex.
YAML::Node weights_deps(const YAML::Node& resolved, const std::map<std::string, std::string>& model_sha256,
                        bool calibrated);
YAML::Node rotation_deps(const YAML::Node& resolved, const std::map<std::string, std::string>& model_sha256);
// The weights stage through the cache. Hit: the stored weights are set on the model (the
// rotation is still prepared, for its online part, unless ctx.rotation_prepared); miss:
// quantize_weights, then publish.
std::vector<LayerRecord> cached_quantize_weights(Model& model, const WeightsContext& ctx,
                                                 const std::string& run_dir, const StageCache& cache,
                                                 const YAML::Node& deps, bool* hit);
// The same with the rotation's own entry (rotation_cache.h) first: a rotation with state
// (KOTMS) restored from it is not trained again, whether the weights are cached or not; one that
// was trained is published for later runs and ILA-AMP shard tasks. *rotation_hit: restored.
std::vector<LayerRecord> cached_rotate_and_quantize(Model& model, WeightsContext& ctx, const std::string& run_dir,
                                                    const StageCache& cache, const YAML::Node& weights_deps,
                                                    const YAML::Node& rotation_deps, bool* weights_hit,
                                                    bool* rotation_hit);

YAML::Node fp_hidden_deps(const YAML::Node& resolved, const std::map<std::string, std::string>& model_sha256,
                          const std::string& task, const std::string& data_sha256, int64_t windows);
// Entries above this size are not stored (a 70B model's FP states for C4 would be ~100 GB).
inline constexpr int64_t kMaxCachedTensorBytes = int64_t(2) << 30;
bool cache_load_tensor(const StageCache& c, const std::string& stage, const YAML::Node& deps, Tensor* t);
void cache_save_tensor(const StageCache& c, const std::string& stage, const YAML::Node& deps, const Tensor& t);

// data_id: the dataset file's sha256 (perplexity) or data dir + task (zero-shot).
// Whether the run's allocator measures (reads calibration data, runs the model: ila-amp), i.e.
// is not uniform: then its inputs join the eval key and its result is cached (allocation_cache.h).
bool measuring_allocator(const YAML::Node& resolved);
YAML::Node eval_deps(const std::string& weights_key, const YAML::Node& resolved,
                     const std::string& task, bool zeroshot, const std::string& data_id);
bool cache_load_metrics(const StageCache& c, const YAML::Node& deps, std::map<std::string, double>* m);
void cache_save_metrics(const StageCache& c, const YAML::Node& deps, const std::map<std::string, double>& m);

}  // namespace twla
