// core/model_config.cpp: see model_config.h. Defaults follow transformers' config classes, so
// a field HF may omit (num_key_value_heads, head_dim, rope_theta...) means what it means there.
#include "core/model_config.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <limits>

#include "core/error.h"
#include "core/fs.h"
#include "core/strings.h"

namespace twla {

namespace {

using nlohmann::json;

// Typed access to config.json fields; every error names the file and the field.
struct Fields {
  const json& j;
  std::string where;

  const json* find(const char* k) const {
    auto it = j.find(k);
    return it == j.end() || it->is_null() ? nullptr : &*it;
  }
  [[noreturn]] void wrong(const char* k, const char* want, const json& v) const {
    TWLA_FAIL(where, ": field '", k, "' must be ", want, ", got ", v.dump(),
              "; fix the value in config.json");
  }
  const json& need(const char* k) const {
    const json* v = find(k);
    TWLA_CHECK(v, where, ": field '", k, "' is missing",
               "; add it (see the model's config.json on the Hugging Face Hub)");
    return *v;
  }
  int64_t as_int(const char* k, const json& v) const {
    if (!v.is_number_integer()) wrong(k, "an integer", v);
    return v.get<int64_t>();
  }
  int to_int(const char* k, const json& v) const {
    int64_t x = as_int(k, v);
    if (x < std::numeric_limits<int>::min() || x > std::numeric_limits<int>::max())
      wrong(k, "a 32-bit integer", v);
    return int(x);
  }
  int req_int(const char* k) const { return to_int(k, need(k)); }
  int opt_int(const char* k, int def) const { const json* v = find(k); return v ? to_int(k, *v) : def; }
  int64_t opt_int64(const char* k, int64_t def) const { const json* v = find(k); return v ? as_int(k, *v) : def; }
  double num(const char* k, const json& v) const {
    if (!v.is_number()) wrong(k, "a number", v);
    return v.get<double>();
  }
  double opt_num(const char* k, double def) const { const json* v = find(k); return v ? num(k, *v) : def; }
  bool opt_bool(const char* k, bool def) const {
    const json* v = find(k);
    if (!v) return def;
    if (!v->is_boolean()) wrong(k, "true or false", *v);
    return v->get<bool>();
  }
  std::string str(const char* k, const json& v) const {
    if (!v.is_string()) wrong(k, "a string", v);
    return v.get<std::string>();
  }
  std::string req_str(const char* k) const { return str(k, need(k)); }
  std::string opt_str(const char* k, const std::string& def) const { const json* v = find(k); return v ? str(k, *v) : def; }
  // bos/eos ids: an integer, or a list of them (Llama-3.1 lists several eos ids): the first.
  int token_id(const char* k) const {
    const json* v = find(k);
    if (!v) return -1;
    if (v->is_array()) {
      if (v->empty()) return -1;
      return to_int(k, v->at(0));
    }
    return to_int(k, *v);
  }
};

const std::vector<std::string> kModelTypes = {"llama", "mistral", "qwen2", "qwen3"};

RopeScaling parse_rope_scaling(const Fields& f) {
  RopeScaling r;
  const json* v = f.find("rope_scaling");
  if (!v) return r;
  if (!v->is_object()) f.wrong("rope_scaling", "an object or null", *v);
  Fields s{*v, f.where + ", rope_scaling"};
  // Newer configs say rope_type, older ones type.
  std::string type = s.find("rope_type") ? s.req_str("rope_type") : s.opt_str("type", "default");
  if (type == "default") return r;
  TWLA_CHECK(type == "llama3" || type == "linear", f.where, ": rope_scaling type '", type,
             "' is not supported", did_you_mean(type, {"llama3", "linear", "default"}),
             " (dynamic, yarn and longrope scaling are not implemented)");
  r.type = type;
  r.factor = s.num("factor", s.need("factor"));
  TWLA_CHECK(r.factor > 0, f.where, ": rope_scaling.factor=", r.factor, " must be positive");
  if (type == "llama3") {
    r.low_freq_factor = s.num("low_freq_factor", s.need("low_freq_factor"));
    r.high_freq_factor = s.num("high_freq_factor", s.need("high_freq_factor"));
    r.original_max_position_embeddings = s.as_int(
        "original_max_position_embeddings", s.need("original_max_position_embeddings"));
    TWLA_CHECK(r.high_freq_factor > r.low_freq_factor, f.where,
               ": rope_scaling.high_freq_factor=", r.high_freq_factor,
               " must exceed low_freq_factor=", r.low_freq_factor);
  }
  return r;
}

}  // namespace

ModelConfig parse_model_config(const std::string& text, const std::string& where) {
  json j;
  try {
    j = json::parse(text);
  } catch (const std::exception& e) {
    TWLA_FAIL(where, " is not valid JSON (", e.what(), "); re-download it");
  }
  TWLA_CHECK(j.is_object(), where, " is not a JSON object; re-download it");
  Fields f{j, where};
  ModelConfig c;
  c.model_type = f.req_str("model_type");
  TWLA_CHECK(std::find(kModelTypes.begin(), kModelTypes.end(), c.model_type) != kModelTypes.end(),
             where, ": model_type '", c.model_type, "' is not supported",
             did_you_mean(c.model_type, kModelTypes), " (twla runs Llama-family decoders: ",
             join(kModelTypes, ", "), ")");
  c.hidden_size = f.req_int("hidden_size");
  c.intermediate_size = f.req_int("intermediate_size");
  c.num_layers = f.req_int("num_hidden_layers");
  c.num_heads = f.req_int("num_attention_heads");
  c.num_kv_heads = f.opt_int("num_key_value_heads", c.num_heads);
  c.vocab_size = f.req_int("vocab_size");
  for (auto [k, v] : {std::pair<const char*, int>{"hidden_size", c.hidden_size},
                      {"intermediate_size", c.intermediate_size}, {"num_hidden_layers", c.num_layers},
                      {"num_attention_heads", c.num_heads}, {"num_key_value_heads", c.num_kv_heads},
                      {"vocab_size", c.vocab_size}})
    TWLA_CHECK(v > 0, where, ": field '", k, "' must be positive, got ", v);
  if (f.find("head_dim")) {
    c.head_dim = f.req_int("head_dim");
  } else {
    TWLA_CHECK(c.hidden_size % c.num_heads == 0, where, ": no head_dim, and hidden_size=",
               c.hidden_size, " is not a multiple of num_attention_heads=", c.num_heads,
               "; add head_dim");
    c.head_dim = c.hidden_size / c.num_heads;
  }
  TWLA_CHECK(c.head_dim > 0 && c.head_dim % 2 == 0, where, ": head_dim=", c.head_dim,
             " must be positive and even (RoPE rotates pairs)");
  TWLA_CHECK(c.num_heads % c.num_kv_heads == 0, where, ": num_attention_heads=", c.num_heads,
             " is not a multiple of num_key_value_heads=", c.num_kv_heads);
  c.rms_norm_eps = f.opt_num("rms_norm_eps", 1e-6);
  c.rope_theta = f.opt_num("rope_theta", 10000.0);
  TWLA_CHECK(c.rms_norm_eps >= 0 && c.rope_theta > 0, where, ": rms_norm_eps=", c.rms_norm_eps,
             " must be >= 0 and rope_theta=", c.rope_theta, " > 0");
  c.rope_scaling = parse_rope_scaling(f);
  c.tie_word_embeddings = f.opt_bool("tie_word_embeddings", false);
  c.qk_norm = c.model_type == "qwen3";
  c.max_position_embeddings = f.opt_int64("max_position_embeddings", 2048);
  c.bos_token_id = f.token_id("bos_token_id");
  c.eos_token_id = f.token_id("eos_token_id");
  c.torch_dtype = f.opt_str("torch_dtype", f.opt_str("dtype", ""));
  c.hidden_act = f.opt_str("hidden_act", "silu");
  TWLA_CHECK(c.hidden_act == "silu" || c.hidden_act == "swish", where, ": hidden_act '",
             c.hidden_act, "' is not supported; twla implements the SwiGLU MLP (silu)");
  if (c.model_type == "qwen2") {
    c.qkv_bias = true;   // Qwen2Attention hard-codes bias on q/k/v, none on o
  } else {
    c.qkv_bias = c.o_bias = f.opt_bool("attention_bias", false);
  }
  c.mlp_bias = f.opt_bool("mlp_bias", false);
  if (c.model_type == "mistral") {
    c.sliding_window = f.opt_int64("sliding_window", 0);
  } else {
    TWLA_CHECK(!f.opt_bool("use_sliding_window", false), where,
               ": use_sliding_window=true is not supported for ", c.model_type,
               " (per-layer windows); set it to false");
  }
  return c;
}

ModelConfig read_model_config(const std::string& dir) {
  TWLA_CHECK(dir_exists(dir), "model directory '", dir,
             "' does not exist; pass a Hugging Face model folder (config.json + *.safetensors)");
  const std::string path = dir + "/config.json";
  TWLA_CHECK(file_exists(path), "model directory '", dir, "' has no config.json ('", path,
             "' is missing); download the full Hugging Face folder");
  return parse_model_config(read_file(path), path);
}

std::vector<std::string> block_linear_names(int block) {
  std::vector<std::string> out;
  for (const auto& g : block_linear_groups(block)) out.insert(out.end(), g.begin(), g.end());
  return out;
}

std::vector<std::vector<std::string>> block_linear_groups(int block) {
  const std::string a = "layers." + std::to_string(block) + ".self_attn.";
  const std::string m = "layers." + std::to_string(block) + ".mlp.";
  return {{a + "q_proj", a + "k_proj", a + "v_proj"}, {a + "o_proj"},
          {m + "gate_proj", m + "up_proj"}, {m + "down_proj"}};
}

int linear_block(const std::string& linear) {
  auto parts = split(linear, '.');
  bool ok = parts.size() == 4 && parts[0] == "layers" && !parts[1].empty() &&
            parts[1].find_first_not_of("0123456789") == std::string::npos && parts[1].size() < 9;
  TWLA_CHECK(ok, "'", linear, "' is not a linear name; expected e.g. 'layers.0.self_attn.q_proj'");
  return std::stoi(parts[1]);
}

std::vector<int64_t> linear_shape(const ModelConfig& c, const std::string& linear) {
  int b = linear_block(linear);
  TWLA_CHECK(b < c.num_layers, "linear '", linear, "': block ", b, " does not exist (the model has ",
             c.num_layers, " blocks)");
  const int64_t H = c.hidden_size, I = c.intermediate_size;
  const int64_t q = int64_t(c.num_heads) * c.head_dim, kv = int64_t(c.num_kv_heads) * c.head_dim;
  auto names = block_linear_names(b);
  const std::vector<std::vector<int64_t>> shapes = {{q, H}, {kv, H}, {kv, H}, {H, q},
                                                    {I, H}, {I, H}, {H, I}};
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == linear) return shapes[i];
  TWLA_FAIL("unknown linear '", linear, "'", did_you_mean(linear, names));
}

bool linear_has_bias(const ModelConfig& c, const std::string& linear) {
  if (linear.find(".self_attn.") == std::string::npos) return c.mlp_bias;
  return ends_with(linear, ".o_proj") ? c.o_bias : c.qkv_bias;
}

int64_t block_params(const ModelConfig& c) {
  int64_t per = 2 * int64_t(c.hidden_size) + (c.qk_norm ? 2 * c.head_dim : 0);
  for (const auto& n : block_linear_names(0)) {
    auto s = linear_shape(c, n);
    per += s[0] * s[1];
  }
  return per * c.num_layers;
}

}  // namespace twla
