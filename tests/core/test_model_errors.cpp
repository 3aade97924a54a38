// tests/core/test_model_errors.cpp: every user-facing error of the model loader says what is wrong,
// where, and how to fix it. Broken folders are built in a temp dir (config edits, symlinks to the
// shared weights, corrupt copies); nothing is written under shared/.
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <filesystem>

#include "core/error.h"
#include "core/fs.h"
#include "core/model.h"
#include "core/paths.h"
#include "tests/catch.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string model_dir(const std::string& rel) { return twla::data_dir() + "/models/" + rel; }

// A fresh directory, removed with everything in it.
struct TempDir {
  std::string path;
  TempDir() {
    static std::atomic<int> n{0};
    path = (fs::temp_directory_path() /
            ("twla_model_errors_" + std::to_string(::getpid()) + "_" + std::to_string(n++))).string();
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& f) const { return path + "/" + f; }
};

json config_of(const std::string& dir) { return json::parse(twla::read_file(dir + "/config.json")); }
void write_json(const std::string& path, const json& j) { twla::write_file_atomic(path, j.dump(2)); }
void link(const std::string& from, const std::string& to) { fs::create_symlink(from, to); }

// The message of the twla::Error that f throws ("" and a failed check if none).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const twla::Error& e) {
    return e.what();
  }
  FAIL_CHECK("expected a twla::Error");
  return "";
}

#define CHECK_HAS(msg, sub)                                  \
  do {                                                       \
    INFO("message: " << (msg));                              \
    CHECK((msg).find(sub) != std::string::npos);             \
  } while (0)

// stories260K's weights with `cfg` as its config.json.
std::string with_config(const TempDir& d, const json& cfg) {
  write_json(d / "config.json", cfg);
  link(model_dir("stories260K/model.safetensors"), d / "model.safetensors");
  return d.path;
}

}  // namespace

TEST_CASE("model errors: missing folder, missing config.json, no weights") {
  auto m = error_of([] { twla::Model("/nonexistent/twla-model"); });
  CHECK_HAS(m, "/nonexistent/twla-model");
  CHECK_HAS(m, "does not exist");

  TempDir d;
  m = error_of([&] { twla::Model{d.path}; });
  CHECK_HAS(m, "config.json");
  CHECK_HAS(m, d.path);

  write_json(d / "config.json", config_of(model_dir("stories260K")));
  m = error_of([&] { twla::ModelSource{d.path}; });
  CHECK_HAS(m, "no model.safetensors");
  twla::write_file_atomic(d / "pytorch_model.bin", "x");
  m = error_of([&] { twla::ModelSource{d.path}; });
  CHECK_HAS(m, "convert it to safetensors");
}

TEST_CASE("model errors: config fields name the field, the value and the fix") {
  const json good = config_of(model_dir("stories260K"));
  auto err = [&](const std::function<void(json&)>& edit) {
    TempDir d;
    json c = good;
    edit(c);
    write_json(d / "config.json", c);
    std::string m = error_of([&] { twla::read_model_config(d.path); });
    CHECK_HAS(m, d / "config.json");
    return m;
  };
  auto m = err([](json& c) { c.erase("hidden_size"); });
  CHECK_HAS(m, "'hidden_size' is missing");
  m = err([](json& c) { c["num_hidden_layers"] = "5"; });
  CHECK_HAS(m, "'num_hidden_layers' must be an integer, got \"5\"");
  m = err([](json& c) { c["rms_norm_eps"] = "tiny"; });
  CHECK_HAS(m, "'rms_norm_eps' must be a number");
  m = err([](json& c) { c["tie_word_embeddings"] = 1; });
  CHECK_HAS(m, "'tie_word_embeddings' must be true or false");
  m = err([](json& c) { c["model_type"] = "lama"; });
  CHECK_HAS(m, "model_type 'lama' is not supported; did you mean 'llama'?");
  m = err([](json& c) { c["model_type"] = "gpt2"; });
  CHECK_HAS(m, "model_type 'gpt2' is not supported");
  m = err([](json& c) { c["hidden_act"] = "gelu"; });
  CHECK_HAS(m, "hidden_act 'gelu' is not supported");
  m = err([](json& c) { c["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}}; });
  CHECK_HAS(m, "rope_scaling type 'yarn' is not supported");
  m = err([](json& c) { c["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}}; });
  CHECK_HAS(m, "'low_freq_factor' is missing");
  m = err([](json& c) { c["num_key_value_heads"] = 3; });
  CHECK_HAS(m, "not a multiple of num_key_value_heads=3");

  TempDir d;
  twla::write_file_atomic(d / "config.json", "{\"model_type\": \"llama\",");
  CHECK_HAS(error_of([&] { twla::read_model_config(d.path); }), "is not valid JSON");
}

TEST_CASE("model errors: truncated or corrupt safetensors name the file") {
  const std::string bytes = twla::read_file(model_dir("stories260K/model.safetensors"));
  const json cfg = config_of(model_dir("stories260K"));
  auto open_with = [&](const std::string& weights) {
    TempDir d;
    write_json(d / "config.json", cfg);
    twla::write_file_atomic(d / "model.safetensors", weights);
    std::string m = error_of([&] { twla::Model{d.path}; });
    CHECK_HAS(m, d / "model.safetensors");
    return m;
  };
  CHECK_HAS(open_with(bytes.substr(0, 5)), "truncated");
  CHECK_HAS(open_with(bytes.substr(0, 100)), "truncated or corrupt");   // header cut off
  CHECK_HAS(open_with(bytes.substr(0, bytes.size() / 2)), "truncated file?");   // data cut off
  std::string corrupt = bytes;
  corrupt[8] = '#';   // the header's opening brace
  CHECK_HAS(open_with(corrupt), "corrupt JSON header");
}

TEST_CASE("model errors: tensors missing or of the wrong shape or dtype") {
  json cfg = config_of(model_dir("stories260K"));
  {  // config and weights disagree: name the tensor, got and expected shapes
    TempDir d;
    json c = cfg;
    c["intermediate_size"] = 100;
    auto m = error_of([&] { twla::Model{with_config(d, c)}; });
    CHECK_HAS(m, "tensor 'model.layers.0.mlp.down_proj.weight'");
    CHECK_HAS(m, "has shape [64, 172], but config.json implies [64, 100]");
  }
  twla::SafetensorsFile src(model_dir("stories260K/model.safetensors"));
  std::map<std::string, twla::Tensor> all;
  for (const auto& n : src.names()) all[n] = src.load_raw(n);
  {  // a tensor is absent
    TempDir d;
    auto t = all;
    t.erase("model.layers.3.mlp.up_proj.weight");
    write_json(d / "config.json", cfg);
    twla::write_safetensors(d / "model.safetensors", t);
    auto m = error_of([&] { twla::Model{d.path}; });
    CHECK_HAS(m, "tensor 'model.layers.3.mlp.up_proj.weight' is missing");
  }
  {  // untied config, but the file has no lm_head (qwen3-tiny is tied without one)
    TempDir d;
    json c = config_of(model_dir("synthetic/qwen3-tiny"));
    c["tie_word_embeddings"] = false;
    write_json(d / "config.json", c);
    link(model_dir("synthetic/qwen3-tiny/model.safetensors"), d / "model.safetensors");
    CHECK_HAS(error_of([&] { twla::Model{d.path}; }), "tensor 'lm_head.weight' is missing");
  }
  {  // a pre-quantized (integer) weight
    TempDir d;
    auto t = all;
    t["model.layers.0.self_attn.v_proj.weight"] = t["model.layers.0.self_attn.v_proj.weight"].to(at::kChar);
    write_json(d / "config.json", cfg);
    twla::write_safetensors(d / "model.safetensors", t);
    CHECK_HAS(error_of([&] { twla::Model{d.path}; }), "has dtype I8");
  }
}

TEST_CASE("model errors: a sharded index naming a missing shard or a misplaced tensor") {
  const std::string src = model_dir("synthetic/llama3-tiny-sharded");
  const std::string s1 = "model-00001-of-00002.safetensors", s2 = "model-00002-of-00002.safetensors";
  {
    TempDir d;
    link(src + "/config.json", d / "config.json");
    link(src + "/model.safetensors.index.json", d / "model.safetensors.index.json");
    link(src + "/" + s1, d / s1);
    auto m = error_of([&] { twla::Model{d.path}; });
    CHECK_HAS(m, "names shard '" + s2 + "'");
    CHECK_HAS(m, "download the missing shard");
  }
  {
    TempDir d;
    link(src + "/config.json", d / "config.json");
    link(src + "/" + s1, d / s1);
    link(src + "/" + s2, d / s2);
    json idx = json::parse(twla::read_file(src + "/model.safetensors.index.json"));
    idx["weight_map"]["model.norm.weight"] = s1;
    write_json(d / "model.safetensors.index.json", idx);
    auto m = error_of([&] { twla::Model{d.path}; });
    CHECK_HAS(m, "maps 'model.norm.weight' to '" + s1 + "', but that file does not hold it");
  }
}

TEST_CASE("model errors: bad ids, blocks, linear names and override shapes") {
  twla::Model m(model_dir("stories260K"));
  CHECK_HAS(error_of([&] { m.embed(at::tensor({1, 512}, at::kLong).view({1, 2})); }),
            "token id 512 is outside the vocabulary [0, 512)");
  CHECK_HAS(error_of([&] { m.embed(at::zeros({1, 2}, at::kInt)); }), "must be [B, T] int64");
  CHECK_HAS(error_of([&] { m.load_block(5); }), "block 5 does not exist");
  auto w = std::make_shared<twla::PackedWeight>();
  w->shape = {64, 64};
  w->parts["W"] = at::zeros({64, 64});
  CHECK_HAS(error_of([&] { m.set_weight("layers.0.self_attn.q_prj", w); }), "did you mean 'layers.0.self_attn.q_proj'?");
  CHECK_HAS(error_of([&] { m.set_weight("layers.7.self_attn.q_proj", w); }), "block 7 does not exist");
  CHECK_HAS(error_of([&] { m.set_weight("self_attn.q_proj", w); }), "is not a linear name");
  CHECK_HAS(error_of([&] { m.set_weight("layers.0.mlp.up_proj", w); }),
            "packed weight has shape [64, 64], but the linear is [172, 64]");
  CHECK_HAS(error_of([&] { m.set_weight("layers.0.mlp.up_proj", nullptr); }), "null");
}
