// core/attention.h: the pieces of a Llama-family decoder layer that hold no weights of their own:
// RMSNorm, rotary position embedding (with llama3/linear frequency scaling) and causal GQA
// attention with an optional position offset and KV cache. All fp32.
// Not here: projections and the block structure (model.cpp).
// Source: transformers modeling_llama.py / modeling_qwen3.py / modeling_rope_utils.py
// (_compute_llama3_parameters); shared/models/synthetic/README.md "Forward semantics".
#pragma once
#include <cstdint>

#include "core/model_config.h"
#include "core/tensor.h"

namespace twla {

// weight * x * rsqrt(mean(x^2, -1) + eps), in fp32. x [..., d], weight [d].
Tensor rms_norm(const Tensor& x, const Tensor& weight, double eps);

// inv_freq[i] = 1 / theta^(2i/head_dim), then the config's rope_scaling. [head_dim/2] fp32.
Tensor rope_inv_freq(const ModelConfig& cfg);

// cos/sin of positions pos..pos+T-1 in the rotate_half layout (dims i and i + d/2 share a
// frequency). cos, sin: [T, head_dim] fp32.
struct RopeTables {
  Tensor cos, sin;
};
RopeTables rope_tables(const ModelConfig& cfg, int64_t pos, int64_t T);

// x*cos + rotate_half(x)*sin. x [B, heads, T, head_dim], tables for those T positions.
Tensor apply_rope(const Tensor& x, const RopeTables& r);

// One block's keys (after RoPE) and values of the positions seen so far.
// k, v: [B, kv_heads, T_past, head_dim]; undefined while empty.
struct KvCache {
  Tensor k, v;
  int64_t length() const { return k.defined() ? k.size(2) : 0; }
  void clear() { k = Tensor(); v = Tensor(); }
};

// Flushes subnormal floats to zero (MXCSR FTZ|DAZ) on this thread while alive; x86 only, a no-op
// elsewhere. A trained model's sharp attention gives probabilities below 1e-38: as subnormals each
// costs a microcode assist (softmax ~10x slower), as zeros they change no fp32 sum.
class FlushDenormals {
 public:
  FlushDenormals();
  ~FlushDenormals();
  FlushDenormals(const FlushDenormals&) = delete;
  FlushDenormals& operator=(const FlushDenormals&) = delete;

 private:
  unsigned saved_ = 0;
};

// softmax(q k^T / sqrt(head_dim) + causal mask) v, softmax in fp32. q [B, H, T, hd];
// k, v [B, KVH, Tk, hd] with Tk >= T: the queries are the last T of the Tk positions. Query
// head h reads KV head h / (H/KVH) (HF repeat_kv). window > 0 also hides keys that lie window
// or more positions back (Mistral's sliding window). Returns [B, H, T, hd]. Scores are
// computed in query chunks of about chunk_floats scores (at least 16 queries), so long sequences
// never hold a [B, H, T, Tk] tensor.
Tensor causal_attention(const Tensor& q, const Tensor& k, const Tensor& v, int64_t window = 0,
                        int64_t chunk_floats = int64_t(1) << 20);

}  // namespace twla
