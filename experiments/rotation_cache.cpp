// experiments/rotation_cache.cpp: see rotation_cache.h.
#include "experiments/rotation_cache.h"

#include <map>
#include <string>

#include "core/error.h"
#include "core/model_config.h"
#include "core/progress.h"
#include "core/safetensors.h"

namespace twla {

namespace {
const char* kStage = "rotation";
const char* kFile = "/rotation.safetensors";   // tensors "<linear>/<part>", e.g. layers.0.mlp.up_proj/C
}  // namespace

void publish_rotation(const Model& model, const Rotation& rot, const StageCache& cache,
                      const YAML::Node& deps) {
  if (rot.is_identity() || !cache.enabled()) return;
  std::map<std::string, Tensor> tensors;
  for (int b = 0; b < model.n_blocks(); ++b)
    for (const auto& name : block_linear_names(b))
      for (const auto& [part, t] : rot.state(name)) tensors[name + "/" + part] = t;
  if (tensors.empty()) return;   // the config alone determines it (hadamard)
  const std::string key = StageCache::key(deps);
  cache.publish(kStage, key, deps, [&](const std::string& dir) {
    write_safetensors(dir + kFile, tensors, {{"rotation", rot.name()}});
  });
}

bool load_cached_rotation(const Model& model, Rotation& rot, const StageCache& cache, const YAML::Node& deps) {
  if (rot.is_identity()) return false;
  if (const std::string dir = cache.lookup(kStage, StageCache::key(deps)); !dir.empty()) {
    const SafetensorsFile f(dir + kFile);
    std::map<std::string, std::map<std::string, Tensor>> state;   // linear -> part -> tensor
    for (const auto& n : f.names()) {
      const auto slash = n.rfind('/');
      TWLA_CHECK(slash != std::string::npos, "stage cache entry ", dir, " holds tensor '", n,
                 "', not <linear>/<part>; delete the entry and run again");
      state[n.substr(0, slash)][n.substr(slash + 1)] = f.load_raw(n);
    }
    for (int b = 0; b < model.n_blocks(); ++b)
      for (const auto& name : block_linear_names(b)) {
        auto it = state.find(name);
        TWLA_CHECK(it != state.end(), "stage cache entry ", dir, " has no rotation state for '", name,
                   "'; delete the entry and run again");
        rot.set_state(name, it->second);
      }
    return true;
  }
  return false;
}

bool cached_prepare_rotation(const Model& model, Rotation& rot, const StageCache& cache,
                             const YAML::Node& deps) {
  if (rot.is_identity()) return false;
  if (load_cached_rotation(model, rot, cache, deps)) return true;
  Progress prog("rotation", model.n_blocks(), "blocks");
  for (int b = 0; b < model.n_blocks(); ++b) {
    const Block blk = model.load_block(b);
    for (const auto& name : block_linear_names(b)) {
      TWLA_ASSERT(!model.has_override(name), "cached_prepare_rotation: '", name,
                  "' has a weight override; the rotation is trained on the weights as loaded");
      rot.prepare(LinearRef{name, b, blk.W.at(name)});
    }
    prog.tick();
  }
  prog.finish();
  publish_rotation(model, rot, cache, deps);
  return false;
}

}  // namespace twla
