// tests/experiments/test_pipeline_alloc.cpp: whole runs with the ila-amp and uniform+LAC allocators
// on stories260K with small settings: the allocation respects the budget, the tables, bits and
// clips reach results.h5, naive and cached searches choose the same bits through the pipeline.
#include <filesystem>
#include <numeric>

#include "allocators/ila_amp.h"
#include "core/paths.h"
#include "core/tokenizer.h"
#include "experiments/pipeline.h"
#include "results/run_file.h"
#include "tests/catch.h"
#include "tests/support/util.h"

namespace fs = std::filesystem;

namespace {
using twla::test::temp_dir;

YAML::Node alloc_run(const std::string& name, const std::string& out, const std::string& allocator) {
  YAML::Node t = YAML::Load(
      "{quantizer: ternary-threshold, rotation: hadamard, threads: 1,"
      " calibration: {dataset: c4, nsamples: 2, seqlen: 32, seed: 0},"
      " activations: {bits: 4, clip: 0.9},"
      " eval: {tasks: [tinystories], seqlen: 64, max_windows: 4, batch: 4, kl: true}}");
  t["name"] = name;
  t["model"]["path"] = twla::data_dir() + "/models/stories260K";
  t["activations"]["allocator"] = YAML::Load(allocator);
  t["output"] = out;
  return t;
}
const char* kIla =
    "{name: ila-amp, candidates: [2, 4, 8], allocation_windows: 2, allocation_seqlen: 32,"
    " lac: {samples: 1, grid_size: 20, grid_step: 0.025}}";
}  // namespace

TEST_CASE("pipeline: ila-amp allocates within the budget and records its tables", "[pipeline][allocators]") {
  auto dir = temp_dir("ila");
  twla::RunOptions quiet;
  quiet.quiet = true;
  auto r = twla::run_experiment(alloc_run("ila", dir.string(), kIla), quiet);
  const auto& bits = r.series.at("act_bits");
  REQUIRE(bits.size() == 5);
  CHECK(std::accumulate(bits.begin(), bits.end(), 0.0) <= 20);   // round(4 * 5)
  CHECK(r.metrics.at("alloc/budget") == 20);
  CHECK(r.metrics.at("alloc/evaluations") == 1 + 5 * 2 + 4 * 4);
  for (const char* k : {"ila_amp/delta/b2", "ila_amp/delta/b4", "ila_amp/delta/b8"})
    CHECK(r.series.at(k).size() == 5);
  CHECK(r.series.at("ila_amp/interaction/b2_b4").size() == 4);
  for (double d : r.series.at("ila_amp/delta/b8")) CHECK(d == 0.0);
  const auto& clip = r.series.at("act_clip");
  REQUIRE(clip.size() == 5 * 7);
  for (double c : clip) {
    CHECK(c >= 0.5);
    CHECK(c < 1.0);
  }
  CHECK(r.metrics.count("kl/tinystories") == 1);
  auto back = twla::read_run((dir / "ila" / "results.h5").string());
  CHECK(back.series.at("act_bits") == bits);
  CHECK(back.series.at("ila_amp/delta/b2") == r.series.at("ila_amp/delta/b2"));
  CHECK(back.layers.at(0).extra.count("act_clip") == 1);
  // The naive search (full evaluations) chooses the same bits through the whole pipeline.
  YAML::Node naive = alloc_run("ila-naive", dir.string(), kIla);
  naive["activations"]["allocator"]["search"] = "naive";
  auto n = twla::run_experiment(naive, quiet);
  CHECK(n.series.at("act_bits") == bits);
  CHECK(n.series.at("ila_amp/delta/b2") == r.series.at("ila_amp/delta/b2"));
  fs::remove_all(dir);
}

TEST_CASE("pipeline: uniform with clip lac picks a clip per linear", "[pipeline][allocators]") {
  auto dir = temp_dir("uni-lac");
  twla::RunOptions quiet;
  quiet.quiet = true;
  auto r = twla::run_experiment(
      alloc_run("u", dir.string(), "{name: uniform, clip: lac, lac: {samples: 1}}"), quiet);
  CHECK(r.series.at("act_bits") == std::vector<double>(5, 4.0));
  REQUIRE(r.series.at("act_clip").size() == 35);
  REQUIRE(r.series.at("lac/A4/clip").size() == 35);
  CHECK(r.series.at("act_clip") == r.series.at("lac/A4/clip"));
  fs::remove_all(dir);
}

TEST_CASE("ila-amp: the allocation set is held-out C4 unless wikitext2-test is asked, with a warning",
          "[allocators]") {
  auto tok = twla::load_tokenizer(twla::data_dir() + "/models/stories260K");
  std::vector<std::string> notes;
  auto w = twla::allocation_windows(*tok, "c4", 3, 16, 1, "activations.allocator", &notes);
  CHECK(w.size(0) == 3);
  CHECK(w.size(1) == 16);
  CHECK(notes.empty());
  w = twla::allocation_windows(*tok, "wikitext2-test", 2, 16, 1, "activations.allocator", &notes);
  CHECK(w.size(0) == 2);
  REQUIRE(notes.size() == 1);
  CHECK(notes[0].find("WARNING") == 0);
  CHECK(notes[0].find("test split") != std::string::npos);
}
