// tests/experiments/test_stage_cache.cpp: the stage cache: entries verified on read, a damaged
// entry recomputed (never trusted), and runs that differ only in activation bits sharing one
// quantized-weights entry with results identical to runs without the cache.
#include <filesystem>
#include <fstream>

#include "core/fs.h"
#include "core/paths.h"
#include "experiments/pipeline.h"
#include "experiments/stage_cache.h"
#include "tests/catch.h"
#include "tests/support/util.h"

namespace fs = std::filesystem;

namespace {
using twla::test::temp_dir;

// Flips one byte in the middle of a file.
void corrupt(const fs::path& f) {
  std::string s = twla::read_file(f.string());
  REQUIRE(!s.empty());
  s[s.size() / 2] ^= 0x5a;
  std::ofstream(f, std::ios::binary) << s;
}

std::vector<fs::path> entries(const fs::path& root, const std::string& stage) {
  std::vector<fs::path> out;
  if (fs::exists(root / stage))
    for (const auto& e : fs::directory_iterator(root / stage)) out.push_back(e.path());
  return out;
}

YAML::Node run_tree(const std::string& name, const fs::path& out, double abits) {
  YAML::Node t = YAML::Load("{eval: {tasks: [tinystories], seqlen: 64, max_windows: 4, batch: 4}}");
  t["name"] = name;
  t["model"]["path"] = twla::data_dir() + "/models/stories260K";
  t["quantizer"] = YAML::Load("{name: gptq, bits: 3}");
  t["calibration"] = YAML::Load("{nsamples: 4, seqlen: 64}");
  t["activations"]["bits"] = abits;
  t["output"] = out.string();
  return t;
}
}  // namespace

TEST_CASE("stage cache: entries round-trip, are verified, and a damaged one is dropped", "[cache]") {
  auto d = temp_dir("cache-unit");
  twla::StageCache c((d / "c").string());
  YAML::Node deps = YAML::Load("{stage: s, bits: 4}");
  std::string key = twla::StageCache::key(deps);
  CHECK(key.size() == 64);
  CHECK(key != twla::StageCache::key(YAML::Load("{stage: s, bits: 6}")));
  CHECK(c.lookup("s", key).empty());
  int fills = 0;
  auto fill = [&](const std::string& dir) {
    ++fills;
    twla::write_file_atomic(dir + "/payload.bin", std::string(1000, 'x'));
  };
  std::string e = c.publish("s", key, deps, fill);
  CHECK(c.lookup("s", key) == e);
  CHECK(twla::read_file(e + "/payload.bin") == std::string(1000, 'x'));
  // A second publisher of the same key keeps the first entry.
  CHECK(c.publish("s", key, deps, fill) == e);
  CHECK(twla::read_file(e + "/payload.bin") == std::string(1000, 'x'));
  // Damage: a changed byte, a missing file, a stray file, a missing MANIFEST.
  for (const std::string how : {"byte", "missing", "stray", "manifest"}) {
    CAPTURE(how);
    REQUIRE(!c.lookup("s", key).empty());
    if (how == "byte") corrupt(fs::path(e) / "payload.bin");
    if (how == "missing") fs::remove(fs::path(e) / "payload.bin");
    if (how == "stray") std::ofstream(fs::path(e) / "extra") << "?";
    if (how == "manifest") fs::remove(fs::path(e) / "MANIFEST");
    CHECK(c.lookup("s", key).empty());
    CHECK(!fs::exists(e));  // removed, so it is recomputed
    c.publish("s", key, deps, fill);
  }
  CHECK(fills == 5);
  // A fill that throws leaves no entry and no temp folder behind.
  std::string k2 = twla::StageCache::key(YAML::Load("{stage: s, bits: 2}"));
  CHECK_THROWS(c.publish("s", k2, deps, [](const std::string&) { throw std::runtime_error("x"); }));
  CHECK(entries(d / "c", "s").size() == 1);
  // Disabled: always a miss, nothing written.
  twla::StageCache off;
  CHECK(off.publish("s", key, deps, fill).empty());
  CHECK(off.lookup("s", key).empty());
  fs::remove_all(d);
}

TEST_CASE("stage cache: an activation-bits ablation reuses the quantized weights", "[cache][pipeline]") {
  auto d = temp_dir("cache-runs");
  twla::RunOptions cached, uncached;
  cached.quiet = uncached.quiet = true;
  cached.cache_dir = (d / "cache").string();
  uncached.cache_dir = "off";
  auto a16 = twla::run_experiment(run_tree("a16", d / "c", 16), cached);
  auto a4 = twla::run_experiment(run_tree("a4", d / "c", 4), cached);
  CHECK(entries(d / "cache", "weights").size() == 1);   // one quantization for both runs
  CHECK(entries(d / "cache", "eval").size() == 2);
  CHECK(a4.timings.at("quantize") < a16.timings.at("quantize"));
  // Identical to runs computed from scratch.
  auto r16 = twla::run_experiment(run_tree("a16", d / "u", 16), uncached);
  auto r4 = twla::run_experiment(run_tree("a4", d / "u", 4), uncached);
  CHECK(!fs::exists(d / "u" / ".cache"));
  CHECK(a16.metrics == r16.metrics);
  CHECK(a4.metrics == r4.metrics);
  REQUIRE(a4.layers.size() == r4.layers.size());
  for (size_t i = 0; i < a4.layers.size(); ++i) CHECK(a4.layers[i].weight_err == r4.layers[i].weight_err);
  CHECK(a4.metrics != a16.metrics);
  // A damaged weights entry is recomputed, with the same results.
  auto w = entries(d / "cache", "weights");
  REQUIRE(w.size() == 1);
  corrupt(w[0] / "weights.safetensors");
  for (const auto& e : entries(d / "cache", "eval")) fs::remove_all(e);  // force the eval to run
  twla::RunOptions force = cached;
  force.force = true;
  auto again = twla::run_experiment(run_tree("a4", d / "c", 4), force);
  CHECK(again.metrics == r4.metrics);
  REQUIRE(entries(d / "cache", "weights").size() == 1);
  CHECK(!twla::StageCache((d / "cache").string())
             .lookup("weights", entries(d / "cache", "weights")[0].filename().string())
             .empty());
  fs::remove_all(d);
}
