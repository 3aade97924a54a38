// experiments/pipeline_cache.cpp: see pipeline_cache.h.
#include "experiments/pipeline_cache.h"

#include <nlohmann/json.hpp>

#include <cmath>

#include "core/fields.h"
#include "core/fs.h"
#include "core/model_config.h"
#include "core/safetensors.h"
#include "eval/datasets.h"
#include "experiments/packed_io.h"
#include "experiments/rotation_cache.h"

namespace twla {

namespace {
YAML::Node base_deps(const std::string& stage, const YAML::Node& resolved,
                     const std::map<std::string, std::string>& model_sha256) {
  YAML::Node n(YAML::NodeType::Map);
  n["stage"] = stage;
  n["version"] = kStageCacheVersion;
  n["model"] = YAML::Clone(resolved["model"]);
  YAML::Node files(YAML::NodeType::Map);
  for (const auto& [k, v] : model_sha256)
    if (k.rfind("model/", 0) == 0) files[k] = v;
  n["model_files"] = files;
  return n;
}
}  // namespace

YAML::Node weights_deps(const YAML::Node& resolved, const std::map<std::string, std::string>& model_sha256,
                        bool calibrated) {
  YAML::Node n = base_deps("weights", resolved, model_sha256);
  n["quantizer"] = YAML::Clone(resolved["quantizer"]);
  n["rotation"] = YAML::Clone(resolved["rotation"]);
  n["compat"] = YAML::Clone(resolved["compat"]);
  if (calibrated) {
    n["calibration"] = YAML::Clone(resolved["calibration"]);
    std::string file;
    calibration_documents(resolved["calibration"]["dataset"].as<std::string>(), &file);
    n["calibration_data"] = sha256_file(file);
    n["batch"] = YAML::Clone(resolved["eval"]["batch"]);
  }
  return n;
}

YAML::Node rotation_deps(const YAML::Node& resolved, const std::map<std::string, std::string>& model_sha256) {
  YAML::Node n = base_deps("rotation", resolved, model_sha256);
  n["rotation"] = YAML::Clone(resolved["rotation"]);
  n["compat"] = YAML::Clone(resolved["compat"]);   // a rotation may have a compat_reference switch
  return n;
}

std::vector<LayerRecord> cached_quantize_weights(Model& model, const WeightsContext& ctx,
                                                 const std::string& run_dir, const StageCache& cache,
                                                 const YAML::Node& deps, bool* hit) {
  *hit = false;
  const std::string key = StageCache::key(deps);
  const bool rotate = !ctx.rot.is_identity();
  if (std::string dir = cache.lookup("weights", key); !dir.empty()) {
    std::map<std::string, PackedWeight> packed;
    std::vector<LayerRecord> recs;
    if (load_packed(dir + "/weights.safetensors", key, &packed, &recs)) {
      for (int b = 0; b < model.n_blocks() && rotate && !ctx.rotation_prepared; ++b) {  // online part
        Block blk = model.load_block(b);
        for (const auto& name : block_linear_names(b)) ctx.rot.prepare(LinearRef{name, b, blk.W.at(name)});
      }
      for (auto& [name, p] : packed) model.set_weight(name, std::make_shared<PackedWeight>(std::move(p)));
      *hit = true;
      return recs;
    }
  }
  std::vector<LayerRecord> recs = quantize_weights(model, ctx, run_dir);
  std::map<std::string, PackedWeight> packed;
  for (int b = 0; b < model.n_blocks(); ++b)
    for (const auto& name : block_linear_names(b))
      if (auto p = model.override_of(name)) packed[name] = *p;
  if (!packed.empty())
    cache.publish("weights", key, deps, [&](const std::string& dir) {
      save_packed(dir + "/weights.safetensors", key, packed, recs);
    });
  return recs;
}

std::vector<LayerRecord> cached_rotate_and_quantize(Model& model, WeightsContext& ctx, const std::string& run_dir,
                                                    const StageCache& cache, const YAML::Node& weights_deps,
                                                    const YAML::Node& rotation_deps, bool* weights_hit,
                                                    bool* rotation_hit) {
  ctx.rotation_prepared = *rotation_hit = load_cached_rotation(model, ctx.rot, cache, rotation_deps);
  std::vector<LayerRecord> recs = cached_quantize_weights(model, ctx, run_dir, cache, weights_deps, weights_hit);
  if (!*rotation_hit) publish_rotation(model, ctx.rot, cache, rotation_deps);
  return recs;
}

YAML::Node fp_hidden_deps(const YAML::Node& resolved, const std::map<std::string, std::string>& model_sha256,
                          const std::string& task, const std::string& data_sha256, int64_t windows) {
  YAML::Node n = base_deps("fp_hidden", resolved, model_sha256);
  n["task"] = task;
  n["data"] = data_sha256;
  n["seqlen"] = YAML::Clone(resolved["eval"]["seqlen"]);
  n["batch"] = YAML::Clone(resolved["eval"]["batch"]);
  n["windows"] = windows;
  return n;
}

bool cache_load_tensor(const StageCache& c, const std::string& stage, const YAML::Node& deps, Tensor* t) {
  std::string dir = c.lookup(stage, StageCache::key(deps));
  if (dir.empty()) return false;
  *t = SafetensorsFile(dir + "/tensor.safetensors").load_raw("t");
  return true;
}

void cache_save_tensor(const StageCache& c, const std::string& stage, const YAML::Node& deps, const Tensor& t) {
  if (int64_t(t.numel() * t.element_size()) > kMaxCachedTensorBytes) return;
  c.publish(stage, StageCache::key(deps), deps, [&](const std::string& dir) {
    write_safetensors(dir + "/tensor.safetensors", {{"t", t}});
  });
}

bool measuring_allocator(const YAML::Node& resolved) {
  const YAML::Node& a = resolved["activations"]["allocator"];
  return (a.IsMap() ? a["name"].as<std::string>() : a.as<std::string>()) != "uniform";
}

YAML::Node eval_deps(const std::string& weights_key, const YAML::Node& resolved,
                     const std::string& task, bool zeroshot, const std::string& data_id) {
  YAML::Node n(YAML::NodeType::Map);
  n["stage"] = "eval";
  n["version"] = kStageCacheVersion;
  n["weights"] = weights_key;
  n["activations"] = YAML::Clone(resolved["activations"]);
  n["compat"] = YAML::Clone(resolved["compat"]);
  if (resolved["backend"]) n["backend"] = YAML::Clone(resolved["backend"]);  // kernel != fake numerics
  n["task"] = task;
  n["data"] = data_id;
  const YAML::Node& e = resolved["eval"];
  // A measuring allocator (ILA-AMP) reads calibration data and runs batches of it.
  if (measuring_allocator(resolved)) {
    n["calibration"] = YAML::Clone(resolved["calibration"]);
    n["batch"] = YAML::Clone(e["batch"]);
  }
  for (const char* f : zeroshot ? std::vector<const char*>{"limit", "subsample", "subsample_seed",
                                                              "zeroshot_batch", "bos"}
                                : std::vector<const char*>{"seqlen", "max_windows", "batch", "kl"})
    n[f] = YAML::Clone(e[f]);
  return n;
}

bool cache_load_metrics(const StageCache& c, const YAML::Node& deps, std::map<std::string, double>* m) {
  std::string dir = c.lookup("eval", StageCache::key(deps));
  if (dir.empty()) return false;
  auto j = nlohmann::json::parse(read_file(dir + "/metrics.json"));
  for (auto it = j.begin(); it != j.end(); ++it) (*m)[it.key()] = it.value().is_number() ? it.value().get<double>() : std::nan("");  // inf/NaN dump as null
  return true;
}

void cache_save_metrics(const StageCache& c, const YAML::Node& deps, const std::map<std::string, double>& m) {
  c.publish("eval", StageCache::key(deps), deps, [&](const std::string& dir) {
    write_file_atomic(dir + "/metrics.json", nlohmann::json(m).dump());
  });
}

}  // namespace twla
