// tests/experiments/test_rotation_cache.cpp: the rotation on its own (experiments/rotation_cache.h):
// KOTMS trained once is stored in the stage cache and a fresh rotation read back from it rotates
// bit for bit as the trained one; stateless rotations store nothing; an entry that lacks a linear
// is refused, naming the entry and the linear; `twla pack` stores it under the key shard tasks read.
#include <filesystem>

#include "core/model_config.h"
#include "core/paths.h"
#include "core/safetensors.h"
#include "experiments/pack.h"
#include "experiments/pipeline.h"
#include "experiments/rotation_cache.h"
#include "tests/catch.h"
#include "tests/support/util.h"

namespace fs = std::filesystem;
using namespace twla;

namespace {
using twla::test::temp_dir;

std::unique_ptr<Rotation> kotms(int steps) {
  PluginSpec s{"kotms"};
  s.params["steps"] = steps;
  return rotations().make(s, "rotation");
}
int entries(const fs::path& d) {
  if (!fs::exists(d)) return 0;
  return int(std::distance(fs::directory_iterator(d), fs::directory_iterator{}));
}
}  // namespace

TEST_CASE("rotation cache: KOTMS state round-trips bit for bit; a cached rotation trains nothing",
          "[experiments]") {
  auto dir = temp_dir("rotcache");
  const StageCache cache((dir / "cache").string());
  const Model model(data_dir() + "/models/stories260K");
  const YAML::Node deps = YAML::Load("{stage: rotation, test: kotms-3}");

  auto trained = kotms(3);
  CHECK_FALSE(cached_prepare_rotation(model, *trained, cache, deps));   // miss: trains, publishes
  CHECK(entries(dir / "cache" / "rotation") == 1);
  CHECK(trained->stats("layers.0.self_attn.q_proj").count("loss_after") == 1);

  auto loaded = kotms(3);
  CHECK(cached_prepare_rotation(model, *loaded, cache, deps));   // hit: set_state, no training
  for (int b = 0; b < model.n_blocks(); ++b) {
    const Block blk = model.load_block(b);
    for (const auto& name : block_linear_names(b)) {
      CHECK(loaded->stats(name) == trained->stats(name));   // the training's record travels with the state
      CHECK(loaded->loss_curve(name) == trained->loss_curve(name));
      const auto a = trained->state(name), c = loaded->state(name);
      REQUIRE(a.size() == 4);   // C, B, stats, loss_curve
      REQUIRE(c.size() == 4);
      for (const char* k : {"C", "B", "stats", "loss_curve"}) CHECK(at::equal(a.at(k), c.at(k)));
      const Tensor& W = blk.W.at(name);
      CHECK(at::equal(trained->weight(name, W), loaded->weight(name, W)));
      const Tensor x = at::randn({3, W.size(1)});
      CHECK(at::equal(trained->input(name, x), loaded->input(name, x)));
    }
  }
  // Publishing again (the weights stage does after every run) keeps the one entry.
  publish_rotation(model, *loaded, cache, deps);
  CHECK(entries(dir / "cache" / "rotation") == 1);
  // Other rotation settings: another key, trained again.
  auto other = kotms(2);
  CHECK_FALSE(cached_prepare_rotation(model, *other, cache, YAML::Load("{stage: rotation, test: kotms-2}")));
  CHECK(entries(dir / "cache" / "rotation") == 2);
  fs::remove_all(dir);
}

TEST_CASE("rotation cache: stateless rotations store nothing; a disabled cache trains each time",
          "[experiments]") {
  auto dir = temp_dir("rotcache-none");
  const StageCache cache((dir / "cache").string());
  const Model model(data_dir() + "/models/stories260K");
  auto h = rotations().make(PluginSpec{"hadamard"}, "rotation");
  CHECK_FALSE(cached_prepare_rotation(model, *h, cache, YAML::Load("{test: hadamard}")));
  CHECK(h->stats("layers.1.mlp.down_proj").count("n") == 1);   // prepared
  CHECK(entries(dir / "cache" / "rotation") == 0);
  auto none = rotations().make(PluginSpec{"none"}, "rotation");
  CHECK_FALSE(cached_prepare_rotation(model, *none, cache, YAML::Load("{test: none}")));
  CHECK(entries(dir / "cache" / "rotation") == 0);

  const StageCache off;
  auto k1 = kotms(1), k2 = kotms(1);
  CHECK_FALSE(cached_prepare_rotation(model, *k1, off, YAML::Load("{test: off}")));
  CHECK_FALSE(cached_prepare_rotation(model, *k2, off, YAML::Load("{test: off}")));
  CHECK(at::equal(k1->state("layers.0.self_attn.q_proj").at("C"), k2->state("layers.0.self_attn.q_proj").at("C")));
  fs::remove_all(dir);
}

TEST_CASE("rotation cache: an entry without a linear's state is refused, naming both", "[experiments]") {
  auto dir = temp_dir("rotcache-bad");
  const StageCache cache((dir / "cache").string());
  const Model model(data_dir() + "/models/stories260K");
  const YAML::Node deps = YAML::Load("{test: partial}");
  auto k = kotms(1);
  k->prepare(LinearRef{"layers.0.self_attn.q_proj", 0, model.load_block(0).W.at("layers.0.self_attn.q_proj")});
  const std::string entry = cache.publish("rotation", StageCache::key(deps), deps, [&](const std::string& d) {
    const auto s = k->state("layers.0.self_attn.q_proj");
    write_safetensors(d + "/rotation.safetensors",
                      {{"layers.0.self_attn.q_proj/C", s.at("C")}, {"layers.0.self_attn.q_proj/B", s.at("B")}});
  });
  auto fresh = kotms(1);
  const std::string e = twla::test::error_of([&] { cached_prepare_rotation(model, *fresh, cache, deps); });
  CHECK(e.find("stage cache entry " + entry) != std::string::npos);
  CHECK(e.find("no rotation state for 'layers.0.self_attn.k_proj'") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("rotation cache: twla pack stores the rotation under the key a shard task reads",
          "[experiments][pipeline]") {
  auto dir = temp_dir("rotcache-pack");
  auto names = [](const fs::path& d) {
    std::vector<std::string> v;
    if (fs::exists(d))
      for (const auto& e : fs::directory_iterator(d)) v.push_back(e.path().filename());
    return v;
  };
  YAML::Node t = YAML::Load(
      "{name: rot, quantizer: ternary-absmean, rotation: {name: kotms, steps: 2}, threads: 1,"
      " calibration: {dataset: c4, nsamples: 2, seqlen: 32, seed: 0}, activations: {bits: 4},"
      " eval: {tasks: [tinystories], seqlen: 64, max_windows: 2, batch: 4, kl: false}}");
  t["model"]["path"] = data_dir() + "/models/stories260K";
  t["output"] = (dir / "runs").string();
  PackOptions po;
  po.out = (dir / "packed").string();
  po.run.quiet = true;
  po.run.cache_dir = (dir / "pack-cache").string();
  pack_model(t, po);
  REQUIRE(names(dir / "pack-cache" / "rotation").size() == 1);

  // Another quantizer and allocator, a shard task on a cold cache: the same rotation key.
  t["quantizer"] = "gptq";
  t["activations"]["allocator"] = YAML::Load(
      "{name: ila-amp, candidates: [4, 8], allocation_windows: 1, allocation_seqlen: 16, clip: fixed}");
  RunOptions shard;
  shard.quiet = true;
  shard.cache_dir = (dir / "shard-cache").string();
  shard.alloc_shard = 0, shard.alloc_shards = 1;
  CHECK(run_experiment(t, shard).status == "shard");
  CHECK(names(dir / "shard-cache" / "rotation") == names(dir / "pack-cache" / "rotation"));
  CHECK_FALSE(fs::exists(dir / "shard-cache" / "weights"));
  fs::remove_all(dir);
}

TEST_CASE("rotation cache: a run whose rotation is cached trains nothing and records the same", "[experiments][pipeline]") {
  auto dir = temp_dir("rotcache-run");
  YAML::Node t = YAML::Load(
      "{name: rot, quantizer: ternary-absmean, rotation: {name: kotms, steps: 3}, threads: 1,"
      " activations: {bits: 8}, eval: {tasks: [tinystories], seqlen: 64, max_windows: 2, batch: 4, kl: false}}");
  t["model"]["path"] = data_dir() + "/models/stories260K";
  t["output"] = (dir / "runs").string();
  RunOptions o;
  o.quiet = true;
  o.cache_dir = (dir / "cache").string();
  const RunRecord first = run_experiment(t, o);
  // Another activation width: weights and rotation from the cache.
  t["activations"]["bits"] = 4;
  t["name"] = "rot4";
  const RunRecord cached = run_experiment(t, o);
  // The weights entry gone: quantized again, on the cached rotation.
  fs::remove_all(dir / "cache" / "weights");
  t["activations"]["bits"] = 8;
  t["name"] = "rot8";
  RunOptions again = o;
  again.force = true;
  fs::remove_all(dir / "cache" / "eval");
  const RunRecord requant = run_experiment(t, again);
  // From scratch, no cache.
  RunOptions off = o;
  off.cache_dir = "off";
  t["name"] = "fresh";
  const RunRecord fresh = run_experiment(t, off);
  CHECK(requant.metrics == fresh.metrics);
  CHECK(first.metrics == fresh.metrics);
  for (const RunRecord* r : {&cached, &requant}) {
    REQUIRE(r->layers.size() == first.layers.size());
    for (size_t i = 0; i < first.layers.size(); ++i) {
      CAPTURE(first.layers[i].name);
      for (const char* k : {"rot/loss_before", "rot/loss_after", "rot/seconds", "rot/ortho_err_C"})
        CHECK(r->layers[i].extra.at(k) == first.layers[i].extra.at(k));   // the training's own figures
      CHECK(r->series.at("rotation_loss/" + first.layers[i].name) == first.series.at("rotation_loss/" + first.layers[i].name));
    }
  }
  CHECK(cached.timings.at("quantize") < first.timings.at("quantize"));
  fs::remove_all(dir);
}
