// core/model.h: a Llama-family causal LM (Llama-2/3, Mistral, Qwen2, Qwen3) over a memory-mapped
// Hugging Face folder: embedding, decoder blocks materialized one at a time, final norm, head.
// Quantized runs swap weights in (set_weight) and route every linear through LinearOps.
// Not here: config parsing (model_config.h), weight files (model_source.h), RoPE and attention
// math (attention.h). Semantics: shared/models/synthetic/README.md "Forward semantics".
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "core/attention.h"
#include "core/model_config.h"
#include "core/model_source.h"
#include "core/tensor.h"
#include "core/types.h"

namespace twla {

struct Block {
  int index = 0;
  Tensor input_norm, post_norm;             // [hidden]
  Tensor q_norm, k_norm;                    // [head_dim] for Qwen3, undefined otherwise
  std::map<std::string, Tensor> W;          // full linear name -> [oc, ic] fp32
  std::map<std::string, Tensor> bias;       // linear name -> [oc], only where the checkpoint has one
};

// How a linear's input becomes its output. Default: x W^T. Quantized execution (rotation,
// activation fake-quant) and calibration (recording inputs) subclass this. The bias, if any, is
// added by the model after linear() returns.
class LinearOps {
 public:
  virtual ~LinearOps() = default;
  virtual Tensor linear(const std::string& name, const Tensor& x, const Tensor& W) const;  // x [..., ic] -> [..., oc]
};

class Model {
 public:
  explicit Model(const std::string& dir);
  // A folder whose files lack the linears in `provided` (HF names, "model.layers.0.mlp.up_proj.weight");
  // the caller must set_weight() each before a forward (a packed model: experiments/packed_model.h).
  Model(const std::string& dir, const std::set<std::string>& provided);
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelConfig& config() const { return src_.config(); }
  const ModelSource& source() const { return src_; }
  int n_blocks() const { return config().num_layers; }
  // [oc, ic] of a linear ("layers.0.mlp.up_proj"); Error with a suggestion for unknown names.
  std::vector<int64_t> linear_shape(const std::string& linear) const;

  Tensor embed(const Tensor& ids) const;         // ids [B,T] int64 -> [B,T,hidden] fp32
  // From the source with overrides applied; the tensors are the caller's own (safe to modify).
  Block load_block(int i) const;
  // [B,T,hidden] -> [B,T,hidden]; causal; positions 0..T-1.
  Tensor block_forward(const Block& b, const Tensor& h, const LinearOps& ops) const;
  // Positions pos..pos+T-1. With kv, the block's keys/values are appended to it and attention
  // sees every cached position; pos must equal kv->length().
  Tensor block_forward(const Block& b, const Tensor& h, const LinearOps& ops, int64_t pos,
                       KvCache* kv) const;
  Tensor norm(const Tensor& h) const;            // final RMSNorm
  Tensor logits(const Tensor& h_normed) const;   // lm_head (or tied embedding) -> [B,T,vocab]
  Tensor forward(const Tensor& ids, const LinearOps* ops = nullptr) const;  // -> logits [B,T,vocab]

  // Replace a linear's weight (quantized or rotated); load_block() then returns dequantize(*w).
  // Not thread-safe against concurrent forwards (the const methods are safe among themselves).
  void set_weight(const std::string& linear, std::shared_ptr<const PackedWeight> w);
  void clear_weights();
  bool has_override(const std::string& linear) const { return overrides_.count(linear) > 0; }
  // The packed weight set for a linear, or null.
  std::shared_ptr<const PackedWeight> override_of(const std::string& linear) const {
    auto it = overrides_.find(linear);
    return it == overrides_.end() ? nullptr : it->second;
  }

  const Tensor& embedding_weight() const { return embed_; }   // [vocab, hidden] fp32
  const Tensor& head_weight() const { return head_; }         // [vocab, hidden]; tied: embedding
  // Whether materialized blocks are kept: by default when all blocks in fp32 are small.
  bool caches_blocks() const { return cache_blocks_; }
  void set_cache_blocks(bool on);

 private:
  std::shared_ptr<const Block> block_ref(int i) const;   // shared with the cache; read-only
  Block materialize(int i) const;

  ModelSource src_;
  Tensor embed_, head_, final_norm_;
  std::map<std::string, std::shared_ptr<const PackedWeight>> overrides_;
  bool cache_blocks_ = false;
  mutable std::mutex mu_;
  mutable std::vector<std::shared_ptr<const Block>> cache_;
};

}  // namespace twla
