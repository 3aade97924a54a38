// core/model_source.h: a Hugging Face model folder (config.json + model.safetensors, or a sharded
// model.safetensors.index.json) as memory-mapped tensors by HF name. Opening checks every tensor
// the config implies (presence, shape, float dtype) from the headers alone, so a mismatched
// checkpoint fails before any compute. Not here: the forward pass (model.h).
#pragma once
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/model_config.h"
#include "core/safetensors.h"

namespace twla {

class ModelSource {
 public:
  explicit ModelSource(const std::string& dir);
  // provided: HF names the caller supplies itself (a packed model's quantized linears,
  // experiments/packed_model.h); they need not be in the weight files.
  ModelSource(const std::string& dir, const std::set<std::string>& provided);
  const std::string& dir() const { return dir_; }
  const ModelConfig& config() const { return cfg_; }
  bool has(const std::string& hf_name) const { return where_.count(hf_name) > 0; }
  // An fp32 copy ("model.layers.0.self_attn.q_proj.weight"); F16/BF16 widen exactly.
  Tensor load(const std::string& hf_name) const;
  // The stored dtype/shape/offsets, from the header of the file that holds the tensor.
  const StTensorInfo& info(const std::string& hf_name) const;
  // The path of the weight file that holds the tensor.
  const std::string& file_of(const std::string& hf_name) const;
  std::vector<std::string> names() const;
  // config.json, the index (if sharded) and every weight file, for sha256 provenance.
  std::vector<std::string> files() const;

 private:
  std::string dir_;
  ModelConfig cfg_;
  std::string index_path_;                                  // "" unless sharded
  std::vector<std::shared_ptr<SafetensorsFile>> shards_;
  std::map<std::string, size_t> where_;                     // HF name -> shards_ index
};

// Every tensor cfg implies, HF name -> shape. lm_head.weight only when untied.
std::map<std::string, std::vector<int64_t>> expected_tensors(const ModelConfig& cfg);

}  // namespace twla
