// core/model.cpp: see model.h. Weights stay memory-mapped; a block is converted to fp32 when it
// is needed and dropped after, unless all blocks together are small enough to keep (tiny test
// models, where conversion would dominate the forward time).
#include "core/model.h"

#include "core/error.h"
#include "core/strings.h"

namespace twla {

namespace {
// Keep materialized blocks when all of them fit in this many fp32 bytes.
constexpr int64_t kCacheBytes = int64_t(2) << 30;

const LinearOps& default_ops() {
  static const LinearOps ops;
  return ops;
}

std::string layer_prefix(int i) { return "model.layers." + std::to_string(i) + "."; }
}  // namespace

Tensor LinearOps::linear(const std::string&, const Tensor& x, const Tensor& W) const {
  return at::linear(x, W);
}

Model::Model(const std::string& dir) : Model(dir, {}) {}

Model::Model(const std::string& dir, const std::set<std::string>& provided) : src_(dir, provided) {
  const ModelConfig& c = config();
  embed_ = src_.load("model.embed_tokens.weight");
  // Tied models use the embedding even when the file also stores a copy as lm_head (HF does too).
  head_ = c.tie_word_embeddings ? embed_ : src_.load("lm_head.weight");
  final_norm_ = src_.load("model.norm.weight");
  cache_blocks_ = 4 * block_params(c) < kCacheBytes;
  cache_.resize(c.num_layers);
}

std::vector<int64_t> Model::linear_shape(const std::string& linear) const {
  return twla::linear_shape(config(), linear);
}

Tensor Model::embed(const Tensor& ids) const {
  TWLA_CHECK(ids.defined() && ids.dim() == 2 && ids.scalar_type() == at::kLong,
             "Model::embed: token ids must be [B, T] int64, got ", describe(ids));
  const int64_t V = config().vocab_size;
  if (ids.numel() > 0) {
    const int64_t lo = ids.min().item<int64_t>(), hi = ids.max().item<int64_t>();
    TWLA_CHECK(lo >= 0 && hi < V, "token id ", (lo < 0 ? lo : hi), " is outside the vocabulary [0, ",
               V, ") of '", src_.dir(), "'; was the text tokenized for another model?");
  }
  return embed_.index_select(0, ids.reshape({-1})).view({ids.size(0), ids.size(1), embed_.size(1)});
}

Block Model::materialize(int i) const {
  TWLA_CHECK(i >= 0 && i < n_blocks(), "block ", i, " does not exist; '", src_.dir(), "' has ",
             n_blocks(), " blocks (0..", n_blocks() - 1, ")");
  const ModelConfig& c = config();
  const std::string p = layer_prefix(i);
  Block b;
  b.index = i;
  b.input_norm = src_.load(p + "input_layernorm.weight");
  b.post_norm = src_.load(p + "post_attention_layernorm.weight");
  if (c.qk_norm) {
    b.q_norm = src_.load(p + "self_attn.q_norm.weight");
    b.k_norm = src_.load(p + "self_attn.k_norm.weight");
  }
  for (const auto& name : block_linear_names(i)) {
    auto it = overrides_.find(name);
    if (it != overrides_.end()) {
      Tensor w = dequantize(*it->second);
      check_shape(w, twla::linear_shape(c, name), "the dequantized override of " + name);
      b.W[name] = w;
    } else {
      b.W[name] = src_.load("model." + name + ".weight");
    }
    if (linear_has_bias(c, name)) b.bias[name] = src_.load("model." + name + ".bias");
  }
  return b;
}

std::shared_ptr<const Block> Model::block_ref(int i) const {
  if (!cache_blocks_ || i < 0 || i >= n_blocks()) return std::make_shared<const Block>(materialize(i));
  std::lock_guard<std::mutex> lock(mu_);
  if (!cache_[i]) cache_[i] = std::make_shared<const Block>(materialize(i));
  return cache_[i];
}

Block Model::load_block(int i) const {
  if (!cache_blocks_) return materialize(i);
  // A cached block is shared with later forwards: hand out copies the caller may modify.
  Block b = *block_ref(i);
  for (Tensor* t : {&b.input_norm, &b.post_norm, &b.q_norm, &b.k_norm})
    if (t->defined()) *t = t->clone();
  for (auto& kv : b.W) kv.second = kv.second.clone();
  for (auto& kv : b.bias) kv.second = kv.second.clone();
  return b;
}

Tensor Model::block_forward(const Block& b, const Tensor& h, const LinearOps& ops) const {
  return block_forward(b, h, ops, 0, nullptr);
}

Tensor Model::block_forward(const Block& b, const Tensor& h0, const LinearOps& ops, int64_t pos,
                            KvCache* kv) const {
  const ModelConfig& c = config();
  TWLA_CHECK(h0.dim() == 3 && h0.size(2) == c.hidden_size, "block ", b.index,
             ": hidden states must be [B, T, ", c.hidden_size, "], got ", describe(h0));
  TWLA_CHECK(!kv || pos == kv->length(), "block ", b.index, ": position ", pos,
             " does not continue the KV cache, which holds ", kv ? kv->length() : 0, " positions");
  const int64_t B = h0.size(0), T = h0.size(1), nh = c.num_heads, kvh = c.num_kv_heads,
                hd = c.head_dim;
  FlushDenormals ftz;   // intra-op worker threads keep their own mode (see attention.h)
  const double eps = c.rms_norm_eps;
  const auto names = block_linear_names(b.index);
  auto lin = [&](size_t k, const Tensor& x) {
    const std::string& n = names[k];
    auto w = b.W.find(n);
    TWLA_CHECK(w != b.W.end(), "block ", b.index, " has no weight for ", n);
    Tensor y = ops.linear(n, x, w->second);
    auto bias = b.bias.find(n);
    return bias == b.bias.end() ? y : y + bias->second;
  };

  Tensor x = rms_norm(h0, b.input_norm, eps);
  Tensor q = lin(0, x).reshape({B, T, nh, hd});
  Tensor k = lin(1, x).reshape({B, T, kvh, hd});
  Tensor v = lin(2, x).reshape({B, T, kvh, hd}).transpose(1, 2);
  if (c.qk_norm) {   // Qwen3: per head, before RoPE
    q = rms_norm(q, b.q_norm, eps);
    k = rms_norm(k, b.k_norm, eps);
  }
  RopeTables rope = rope_tables(c, pos, T);
  q = apply_rope(q.transpose(1, 2), rope);   // [B, nh, T, hd]
  k = apply_rope(k.transpose(1, 2), rope);   // [B, kvh, T, hd]
  if (kv) {
    if (kv->k.defined()) {
      k = at::cat({kv->k, k}, 2);
      v = at::cat({kv->v, v}, 2);
    }
    kv->k = k;
    kv->v = v;
  }
  Tensor a = causal_attention(q, k, v, c.sliding_window).transpose(1, 2).reshape({B, T, nh * hd});
  Tensor h = h0 + lin(3, a);

  x = rms_norm(h, b.post_norm, eps);
  Tensor gate = lin(4, x), up = lin(5, x);
  return h + lin(6, at::silu(gate) * up);
}

Tensor Model::norm(const Tensor& h) const { return rms_norm(h, final_norm_, config().rms_norm_eps); }

Tensor Model::logits(const Tensor& h_normed) const { return at::linear(h_normed, head_); }

Tensor Model::forward(const Tensor& ids, const LinearOps* ops) const {
  const LinearOps& o = ops ? *ops : default_ops();
  Tensor h = embed(ids);
  for (int i = 0; i < n_blocks(); ++i) h = block_forward(*block_ref(i), h, o);
  return logits(norm(h));
}

void Model::set_weight(const std::string& linear, std::shared_ptr<const PackedWeight> w) {
  TWLA_CHECK(w != nullptr, "set_weight('", linear, "'): the packed weight is null");
  const auto shape = linear_shape(linear);   // throws for unknown names, with a suggestion
  TWLA_CHECK(w->shape == shape, "set_weight('", linear, "'): packed weight has shape ",
             shape_str(w->shape), ", but the linear is ", shape_str(shape), " [oc, ic]");
  overrides_[linear] = std::move(w);
  std::lock_guard<std::mutex> lock(mu_);
  cache_[linear_block(linear)].reset();
}

void Model::set_cache_blocks(bool on) {
  std::lock_guard<std::mutex> lock(mu_);
  cache_blocks_ = on;
  for (auto& b : cache_) b.reset();
}

void Model::clear_weights() {
  overrides_.clear();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& b : cache_) b.reset();
}

}  // namespace twla
