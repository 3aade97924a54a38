// tests/core/test_model.cpp: the Llama-family model against golden logits: stories260K (a real
// tiny Llama-2; golden.json agrees with llama2.c) and the synthetic llama3-tiny (BF16, llama3
// RoPE scaling, untied), llama3-tiny-sharded and qwen3-tiny (F16, q/k-norm, head_dim != H/heads,
// tied without lm_head). Tolerances: shared/models/synthetic/README.md. Errors: test_model_errors.cpp.
#include <nlohmann/json.hpp>

#include <cstring>

#include "core/fs.h"
#include "core/model.h"
#include "core/paths.h"
#include "tests/catch.h"

using twla::Model;
using twla::Tensor;

namespace {

std::string model_dir(const std::string& rel) { return twla::data_dir() + "/models/" + rel; }

nlohmann::json golden_of(const std::string& dir) {
  return nlohmann::json::parse(twla::read_file(dir + "/golden.json"));
}

Tensor ids_of(const std::vector<int64_t>& ids) {
  return at::tensor(at::ArrayRef<int64_t>(ids), at::kLong).view({1, -1});
}

// Mean over t of -log softmax(logits[t])[ids[t+1]], log-softmax in double (the golden definition).
double mean_nll(const Tensor& logits, const std::vector<int64_t>& ids) {
  Tensor lp = at::log_softmax(logits[0].to(at::kDouble), -1);
  double s = 0;
  for (size_t t = 0; t + 1 < ids.size(); ++t) s -= lp[t][ids[t + 1]].item<double>();
  return s / double(ids.size() - 1);
}

float max_diff(const Tensor& a, const std::vector<double>& b) {
  return twla::max_abs_diff(a.to(at::kDouble).flatten(), at::tensor(b, at::kDouble));
}

// Bit-for-bit equality of two float tensors.
bool same_bits(const Tensor& a, const Tensor& b) {
  return a.sizes() == b.sizes() && a.scalar_type() == b.scalar_type() &&
         std::memcmp(a.contiguous().data_ptr(), b.contiguous().data_ptr(), a.nbytes()) == 0;
}

// Exact IEEE binary16 -> float, written out (subnormals included) so it does not share code with ATen.
float half_bits_to_float(uint16_t h) {
  const int sign = h >> 15, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  float v = e == 0 ? std::ldexp(float(m), -24)
            : e == 31 ? (m ? NAN : INFINITY)
                      : std::ldexp(float(1024 + m), e - 25);
  return sign ? -v : v;
}

}  // namespace

TEST_CASE("model: stories260K reproduces golden.json (both texts)") {
  const std::string dir = model_dir("stories260K");
  Model m(dir);
  const auto g = golden_of(dir);
  for (const auto* entry : {&g, &g["second_text"]}) {
    auto ids = (*entry)["token_ids"].get<std::vector<int64_t>>();
    CAPTURE(ids.size());
    Tensor logits = m.forward(ids_of(ids));
    REQUIRE(logits.sizes() == at::IntArrayRef({1, int64_t(ids.size()), 512}));
    Tensor last = logits[0][-1];
    CHECK(max_diff(last.narrow(0, 0, 8), (*entry)["last_position_logits_first8"]) < 1e-4);
    const double nll = mean_nll(logits, ids), want = (*entry)["mean_next_token_nll_nats"];
    CHECK(std::abs(nll - want) < 1e-4 * want);
    if (entry == &g) CHECK(last.argmax().item<int64_t>() == g["last_position_argmax"].get<int64_t>());
  }
}

TEST_CASE("model: synthetic llama3/qwen3 reproduce golden.json") {
  const std::string name = GENERATE(as<std::string>{}, "llama3-tiny", "llama3-tiny-sharded", "qwen3-tiny");
  CAPTURE(name);
  const std::string dir = model_dir("synthetic/" + name);
  Model m(dir);
  const auto g = golden_of(dir);
  auto ids = g["input_ids"].get<std::vector<int64_t>>();
  CHECK(max_diff(twla::rope_inv_freq(m.config()), g["rope_inv_freq_float32"]) < 1e-9);

  // The residual stream at the last position, to locate a divergence.
  const auto& hid = g["hidden_last_position_first8"];
  Tensor h = m.embed(ids_of(ids));
  CHECK(max_diff(h[0][-1].narrow(0, 0, 8), hid["embedding"]) == 0);
  for (int i = 0; i < m.n_blocks(); ++i) {
    h = m.block_forward(m.load_block(i), h, twla::LinearOps{});
    CHECK(max_diff(h[0][-1].narrow(0, 0, 8), hid["after_layer_" + std::to_string(i)]) < 1e-4);
  }
  CHECK(max_diff(m.norm(h)[0][-1].narrow(0, 0, 8), hid["after_final_norm"]) < 1e-4);

  Tensor logits = m.forward(ids_of(ids));
  REQUIRE(logits.sizes() == at::IntArrayRef({1, 24, 300}));
  std::vector<double> last3;
  for (const auto& row : g["logits_last3"])
    for (double x : row) last3.push_back(x);
  CHECK(max_diff(logits[0].narrow(0, 21, 3), last3) < 1e-4);
  CHECK(std::abs(mean_nll(logits, ids) - g["mean_nll"].get<double>()) < 1e-5);
  auto argmax = logits[0].argmax(-1);
  auto want = g["argmax_all_positions"].get<std::vector<int64_t>>();
  for (int t = 0; t < 24; ++t) CHECK(argmax[t].item<int64_t>() == want[size_t(t)]);
}

TEST_CASE("model config: fields of the three architectures") {
  auto s = twla::read_model_config(model_dir("stories260K"));
  CHECK(s.model_type == "llama");
  CHECK(s.hidden_size == 64);
  CHECK(s.intermediate_size == 172);
  CHECK(s.num_layers == 5);
  CHECK(s.num_heads == 8);
  CHECK(s.num_kv_heads == 4);
  CHECK(s.head_dim == 8);
  CHECK(s.vocab_size == 512);
  CHECK(s.rms_norm_eps == 1e-5);
  CHECK(s.tie_word_embeddings);
  CHECK(s.rope_scaling.type.empty());
  CHECK(s.bos_token_id == 1);
  CHECK(s.eos_token_id == 2);
  CHECK(s.max_position_embeddings == 512);

  auto l = twla::read_model_config(model_dir("synthetic/llama3-tiny"));
  CHECK(l.rope_scaling.type == "llama3");
  CHECK(l.rope_scaling.factor == 8.0);
  CHECK(l.rope_scaling.original_max_position_embeddings == 256);
  CHECK(l.rope_theta == 500000.0);
  CHECK_FALSE(l.tie_word_embeddings);
  CHECK(l.torch_dtype == "bfloat16");

  auto q = twla::read_model_config(model_dir("synthetic/qwen3-tiny"));
  CHECK(q.qk_norm);
  CHECK(q.head_dim == 32);
  CHECK(q.rms_norm_eps == 1e-6);
  CHECK(twla::linear_shape(q, "layers.1.self_attn.q_proj") == std::vector<int64_t>{128, 64});
  CHECK(twla::linear_shape(q, "layers.1.self_attn.o_proj") == std::vector<int64_t>{64, 128});
  CHECK(twla::linear_shape(q, "layers.0.mlp.down_proj") == std::vector<int64_t>{64, 128});
}

TEST_CASE("model source: raw weights are bit-exact (BF16 = u16 << 16, F16 exact)") {
  twla::ModelSource bf(model_dir("synthetic/llama3-tiny"));
  CHECK(bf.files().size() == 2);
  twla::SafetensorsFile bf_file(model_dir("synthetic/llama3-tiny/model.safetensors"));
  for (const auto& n : bf_file.names()) {
    CAPTURE(n);
    REQUIRE(bf_file.info(n).dtype == "BF16");
    Tensor raw = bf_file.load_raw(n).view(at::kShort).to(at::kInt).bitwise_and(0xffff);
    Tensor want = (raw * 65536).view(at::kFloat);   // u16 << 16, reinterpreted
    CHECK(same_bits(bf.load(n), want));
  }
  twla::ModelSource f16(model_dir("synthetic/qwen3-tiny"));
  CHECK_FALSE(f16.has("lm_head.weight"));
  twla::SafetensorsFile f16_file(model_dir("synthetic/qwen3-tiny/model.safetensors"));
  for (const auto& n : f16_file.names()) {
    CAPTURE(n);
    Tensor raw = f16_file.load_raw(n).view(at::kShort).flatten();
    Tensor want = at::empty({raw.numel()}, at::kFloat);
    for (int64_t i = 0; i < raw.numel(); ++i)
      want[i] = half_bits_to_float(uint16_t(raw[i].item<int16_t>()));
    CHECK(same_bits(f16.load(n).flatten(), want));
  }
}

TEST_CASE("model source: the sharded folder holds the same tensors, bit for bit") {
  twla::ModelSource one(model_dir("synthetic/llama3-tiny"));
  twla::ModelSource two(model_dir("synthetic/llama3-tiny-sharded"));
  CHECK(one.names() == two.names());
  for (const auto& n : one.names()) CHECK(same_bits(one.load(n), two.load(n)));
  auto files = two.files();
  REQUIRE(files.size() == 4);   // config, index, two shards
  CHECK(files[1].find("model.safetensors.index.json") != std::string::npos);
  // Layer 0 straddles the shards.
  CHECK(two.file_of("model.layers.0.mlp.up_proj.weight") != two.file_of("model.layers.0.self_attn.q_proj.weight"));
}

namespace {
struct Recorder : twla::LinearOps {
  mutable std::vector<std::string> seen;
  Tensor linear(const std::string& name, const Tensor& x, const Tensor& W) const override {
    seen.push_back(name);
    return LinearOps::linear(name, x, W);
  }
};
}  // namespace

TEST_CASE("model: LinearOps sees every linear in order q,k,v,o,gate,up,down") {
  Model m(model_dir("stories260K"));
  Recorder rec;
  Tensor ids = ids_of({1, 403, 407, 261});
  Tensor with = m.forward(ids, &rec);
  std::vector<std::string> want;
  for (int i = 0; i < m.n_blocks(); ++i)
    for (const auto& n : twla::block_linear_names(i)) want.push_back(n);
  CHECK(rec.seen == want);
  CHECK(same_bits(with, m.forward(ids)));
  auto groups = twla::block_linear_groups(2);
  REQUIRE(groups.size() == 4);
  CHECK(groups[2] == std::vector<std::string>{"layers.2.mlp.gate_proj", "layers.2.mlp.up_proj"});
}

TEST_CASE("model: set_weight overrides a linear until clear_weights") {
  Model m(model_dir("stories260K"));
  Tensor ids = ids_of({1, 403, 407, 261, 378, 432});
  Tensor base = m.forward(ids);
  const std::string name = "layers.1.mlp.down_proj";
  Tensor W = m.load_block(1).W.at(name);

  auto same = std::make_shared<twla::PackedWeight>();
  same->shape = W.sizes().vec();
  same->parts["W"] = W.clone();
  m.set_weight(name, same);
  CHECK(m.has_override(name));
  CHECK(same_bits(m.forward(ids), base));

  auto zero = std::make_shared<twla::PackedWeight>(*same);
  zero->parts["W"] = at::zeros_like(W);
  m.set_weight(name, zero);
  CHECK(m.load_block(1).W.at(name).abs().max().item<float>() == 0);
  CHECK(twla::max_abs_diff(m.forward(ids), base) > 1e-3);

  m.clear_weights();
  CHECK_FALSE(m.has_override(name));
  CHECK(same_bits(m.forward(ids), base));
}

TEST_CASE("model: load_block hands out copies; batches and the KV cache agree with one pass") {
  const std::string name = GENERATE(as<std::string>{}, "stories260K", "synthetic/qwen3-tiny");
  CAPTURE(name);
  Model m(model_dir(name));
  Tensor ids = ids_of({1, 17, 255, 0, 42, 256, 128, 7, 3, 100, 200, 150});
  Tensor base = m.forward(ids);
  m.load_block(0).W.at("layers.0.self_attn.q_proj").zero_();
  CHECK(same_bits(m.forward(ids), base));

  // Batch rows are independent: a second, different row changes nothing in the first.
  Tensor batch = at::cat({ids, ids.flip({1})}, 0);
  CHECK(twla::max_abs_diff(m.forward(batch)[0], base[0]) < 1e-5);

  // Prefix of 7, then one token at a time through a KV cache.
  std::vector<twla::KvCache> kv(size_t(m.n_blocks()));
  std::vector<Tensor> parts;
  for (auto [t0, n] : {std::pair<int64_t, int64_t>{0, 7}, {7, 1}, {8, 1}, {9, 3}}) {
    Tensor h = m.embed(ids.narrow(1, t0, n));
    for (int i = 0; i < m.n_blocks(); ++i)
      h = m.block_forward(m.load_block(i), h, twla::LinearOps{}, t0, &kv[size_t(i)]);
    parts.push_back(m.logits(m.norm(h)));
  }
  CHECK(kv[0].length() == 12);
  CHECK(twla::max_abs_diff(at::cat(parts, 1), base) < 1e-4);
}

TEST_CASE("model: streaming blocks (no cache) gives the same logits and overrides") {
  Model m(model_dir("synthetic/qwen3-tiny"));
  Tensor ids = ids_of({1, 17, 299, 0, 42, 256});
  REQUIRE(m.caches_blocks());
  Tensor base = m.forward(ids);
  m.set_cache_blocks(false);
  CHECK(same_bits(m.forward(ids), base));
  auto w = std::make_shared<twla::PackedWeight>();
  w->shape = {64, 128};
  w->parts["W"] = at::zeros({64, 128});
  m.set_weight("layers.1.self_attn.o_proj", w);
  CHECK(m.load_block(1).W.at("layers.1.self_attn.o_proj").abs().max().item<float>() == 0);
  CHECK(twla::max_abs_diff(m.forward(ids), base) > 1e-3);
}

namespace {
// The definition, in double: repeat K/V per query head (h -> h / rep), full score matrix, mask.
Tensor attention_ref(const Tensor& q, const Tensor& k, const Tensor& v, int64_t window) {
  const int64_t H = q.size(1), T = q.size(2), Tk = k.size(2), rep = H / k.size(1);
  Tensor kr = k.to(at::kDouble).repeat_interleave(rep, 1), vr = v.to(at::kDouble).repeat_interleave(rep, 1);
  Tensor s = at::matmul(q.to(at::kDouble), kr.transpose(-2, -1)) / std::sqrt(double(q.size(3)));
  Tensor qpos = at::arange(Tk - T, Tk, at::kLong).unsqueeze(1), kpos = at::arange(Tk, at::kLong).unsqueeze(0);
  Tensor hidden = kpos > qpos;
  if (window > 0) hidden = hidden | (qpos - kpos >= window);
  return at::matmul(at::softmax(s.masked_fill(hidden, -INFINITY), -1), vr).to(at::kFloat);
}
}  // namespace

TEST_CASE("attention: chunked GQA with offset and window matches the plain definition") {
  at::manual_seed(7);
  for (auto [past, window] : {std::pair<int64_t, int64_t>{0, 0}, {9, 0}, {0, 5}, {13, 7}}) {
    CAPTURE(past, window);
    const int64_t B = 2, H = 6, KVH = 2, T = 50, hd = 8;
    Tensor q = at::randn({B, H, T, hd}) * 3, k = at::randn({B, KVH, past + T, hd}) * 3,
           v = at::randn({B, KVH, past + T, hd});
    Tensor want = attention_ref(q, k, v, window);
    CHECK(twla::max_abs_diff(twla::causal_attention(q, k, v, window), want) < 1e-5);
    CHECK(twla::max_abs_diff(twla::causal_attention(q, k, v, window, /*chunk_floats=*/1), want) < 1e-5);
  }
}
