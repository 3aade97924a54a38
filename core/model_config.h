// core/model_config.h: the architecture of a Llama-family checkpoint, read from a Hugging Face
// config.json (Llama-2/3, Mistral, Qwen2, Qwen3), and the names and shapes it implies.
// Not here: weights (model_source.h), the forward pass (model.h, attention.h).
// Source: transformers' LlamaConfig / Qwen2Config / Qwen3Config defaults and field names.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace twla {

struct RopeScaling {
  std::string type;                 // "" = none, "llama3", "linear"
  double factor = 1, low_freq_factor = 1, high_freq_factor = 4;
  int64_t original_max_position_embeddings = 8192;
};

struct ModelConfig {
  std::string model_type;           // "llama", "qwen3", "qwen2", "mistral" (llama-like)
  int hidden_size = 0, intermediate_size = 0, num_layers = 0, num_heads = 0, num_kv_heads = 0,
      head_dim = 0, vocab_size = 0;
  double rms_norm_eps = 1e-6, rope_theta = 10000;
  RopeScaling rope_scaling;         // type "" = none
  bool tie_word_embeddings = false;
  bool qk_norm = false;             // Qwen3: per-head RMSNorm of q and k before RoPE
  int64_t max_position_embeddings = 2048;
  int bos_token_id = -1, eos_token_id = -1;   // a list of eos ids keeps the first
  std::string torch_dtype;
  // Beyond the common API: biases (Qwen2 has q/k/v biases; Llama's attention_bias/mlp_bias)
  // and Mistral's sliding window (0 = full causal attention).
  bool qkv_bias = false, o_bias = false, mlp_bias = false;
  int64_t sliding_window = 0;
  std::string hidden_act = "silu";
};

// Reads dir/config.json. Errors name the file, the field and the fix.
ModelConfig read_model_config(const std::string& dir);
// Parses config.json text; `where` names the file in errors.
ModelConfig parse_model_config(const std::string& json_text, const std::string& where);

// A linear is named "layers.<i>.self_attn.q_proj" etc. (the HF name without "model." and ".weight").
std::vector<std::string> block_linear_names(int block);               // q,k,v,o,gate,up,down
std::vector<std::vector<std::string>> block_linear_groups(int block); // {q,k,v},{o},{gate,up},{down}
// [oc, ic] of a linear under cfg; throws Error (with a suggestion) for an unknown name.
std::vector<int64_t> linear_shape(const ModelConfig& cfg, const std::string& linear);
// The block index of a linear name ("layers.3.mlp.up_proj" -> 3); throws Error if malformed.
int linear_block(const std::string& linear);
// Whether cfg gives this linear a bias (Qwen2 q/k/v; attention_bias, mlp_bias).
bool linear_has_bias(const ModelConfig& cfg, const std::string& linear);
// Parameters of all decoder blocks (x4 = bytes to materialize every block in fp32).
int64_t block_params(const ModelConfig& cfg);

}  // namespace twla
