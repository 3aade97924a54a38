// core/model_source.cpp: see model_source.h. The sharded layout follows transformers'
// model.safetensors.index.json: {"metadata": {...}, "weight_map": {name: file}}; a single
// model.safetensors wins over an index when both exist, as in from_pretrained.
#include "core/model_source.h"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "core/error.h"
#include "core/fs.h"
#include "core/strings.h"

namespace twla {

std::map<std::string, std::vector<int64_t>> expected_tensors(const ModelConfig& c) {
  const int64_t H = c.hidden_size, V = c.vocab_size;
  std::map<std::string, std::vector<int64_t>> e;
  e["model.embed_tokens.weight"] = {V, H};
  e["model.norm.weight"] = {H};
  if (!c.tie_word_embeddings) e["lm_head.weight"] = {V, H};
  for (int i = 0; i < c.num_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    e[p + "input_layernorm.weight"] = {H};
    e[p + "post_attention_layernorm.weight"] = {H};
    if (c.qk_norm) {
      e[p + "self_attn.q_norm.weight"] = {c.head_dim};
      e[p + "self_attn.k_norm.weight"] = {c.head_dim};
    }
    for (const auto& l : block_linear_names(i)) {
      auto s = linear_shape(c, l);
      e["model." + l + ".weight"] = s;
      if (linear_has_bias(c, l)) e["model." + l + ".bias"] = {s[0]};
    }
  }
  return e;
}

namespace {

// The weight files named by an index, in first-seen order, and name -> file.
struct Index {
  std::vector<std::string> shards;
  std::map<std::string, std::string> weight_map;
};

Index read_index(const std::string& path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    TWLA_FAIL("sharded index '", path, "' is not valid JSON (", e.what(), "); re-download it");
  }
  TWLA_CHECK(j.is_object() && j.contains("weight_map") && j["weight_map"].is_object(),
             "sharded index '", path, "' has no \"weight_map\" object; re-download it");
  Index idx;
  for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
    TWLA_CHECK(it->is_string(), "sharded index '", path, "': weight_map entry '", it.key(),
               "' must name a file, got ", it->dump());
    std::string f = it->get<std::string>();
    TWLA_CHECK(!f.empty() && f.find('/') == std::string::npos && f.find("..") == std::string::npos,
               "sharded index '", path, "': weight_map entry '", it.key(), "' names '", f,
               "', not a file in the same folder");
    if (std::find(idx.shards.begin(), idx.shards.end(), f) == idx.shards.end())
      idx.shards.push_back(f);
    idx.weight_map[it.key()] = f;
  }
  return idx;
}

bool is_float_dtype(const std::string& d) { return d == "F32" || d == "F16" || d == "BF16"; }

}  // namespace

ModelSource::ModelSource(const std::string& dir) : ModelSource(dir, {}) {}

ModelSource::ModelSource(const std::string& dir, const std::set<std::string>& provided)
    : dir_(dir), cfg_(read_model_config(dir)) {
  const std::string single = dir + "/model.safetensors";
  const std::string index = dir + "/model.safetensors.index.json";
  if (file_exists(single)) {
    shards_.push_back(std::make_shared<SafetensorsFile>(single));
    for (const auto& n : shards_[0]->names()) where_[n] = 0;
  } else if (file_exists(index)) {
    index_path_ = index;
    Index idx = read_index(index);
    for (const auto& f : idx.shards) {
      const std::string p = dir + "/" + f;
      std::string example;
      for (const auto& [n, g] : idx.weight_map)
        if (g == f) { example = n; break; }
      TWLA_CHECK(file_exists(p), "model folder '", dir, "': model.safetensors.index.json names shard '",
                 f, "' (e.g. for '", example, "'), but '", p,
                 "' does not exist; download the missing shard");
      shards_.push_back(std::make_shared<SafetensorsFile>(p));
    }
    for (const auto& [n, f] : idx.weight_map) {
      size_t s = size_t(std::find(idx.shards.begin(), idx.shards.end(), f) - idx.shards.begin());
      TWLA_CHECK(shards_[s]->has(n), "model folder '", dir, "': the index maps '", n, "' to '", f,
                 "', but that file does not hold it; the index and the shards do not match");
      where_[n] = s;
    }
  } else {
    const bool bin = file_exists(dir + "/pytorch_model.bin") ||
                     file_exists(dir + "/pytorch_model.bin.index.json");
    TWLA_FAIL("model folder '", dir, "' has no model.safetensors or model.safetensors.index.json",
              bin ? "; it holds pytorch_model.bin, which twla does not read: convert it to "
                    "safetensors (e.g. transformers save_pretrained(safe_serialization=True))"
                  : "; download the weights of the Hugging Face folder");
  }
  // Header-only validation: cheap, and it catches a config/weights mismatch before any compute.
  for (const auto& [name, shape] : expected_tensors(cfg_)) {
    if (provided.count(name) && !has(name)) continue;
    TWLA_CHECK(has(name), "model folder '", dir, "': tensor '", name, "' is missing from ",
               index_path_.empty() ? single : "the shards of " + index_path_,
               "; the weights do not match config.json (model_type=", cfg_.model_type,
               ", num_hidden_layers=", cfg_.num_layers,
               ", tie_word_embeddings=", cfg_.tie_word_embeddings ? "true" : "false", ")");
    const auto& ti = info(name);
    TWLA_CHECK(ti.shape == shape, "model folder '", dir, "': tensor '", name, "' in '",
               file_of(name), "' has shape ", shape_str(ti.shape), ", but config.json implies ",
               shape_str(shape), " (hidden_size=", cfg_.hidden_size, ", intermediate_size=",
               cfg_.intermediate_size, ", heads=", cfg_.num_heads, "/", cfg_.num_kv_heads,
               ", head_dim=", cfg_.head_dim, ", vocab_size=", cfg_.vocab_size,
               "); the config and the weights do not match");
    TWLA_CHECK(is_float_dtype(ti.dtype), "model folder '", dir, "': tensor '", name, "' in '",
               file_of(name), "' has dtype ", ti.dtype,
               "; twla reads F32, F16 and BF16 checkpoints (not pre-quantized ones)");
  }
}

const StTensorInfo& ModelSource::info(const std::string& n) const {
  auto it = where_.find(n);
  TWLA_CHECK(it != where_.end(), "model folder '", dir_, "': no tensor '", n, "'",
             did_you_mean(n, names()));
  return shards_[it->second]->info(n);
}

const std::string& ModelSource::file_of(const std::string& n) const {
  info(n);  // the error for an unknown name
  return shards_[where_.at(n)]->path();
}

Tensor ModelSource::load(const std::string& n) const {
  info(n);
  const auto& f = *shards_[where_.at(n)];
  TWLA_CHECK(is_float_dtype(f.info(n).dtype), "tensor '", n, "' in '", f.path(), "' has dtype ",
             f.info(n).dtype, "; ModelSource::load returns float weights only");
  return f.load(n, at::kFloat);
}

std::vector<std::string> ModelSource::names() const {
  std::vector<std::string> out;
  for (const auto& kv : where_) out.push_back(kv.first);
  return out;
}

std::vector<std::string> ModelSource::files() const {
  std::vector<std::string> out = {dir_ + "/config.json"};
  if (!index_path_.empty()) out.push_back(index_path_);
  for (const auto& s : shards_) out.push_back(s->path());
  return out;
}

}  // namespace twla
