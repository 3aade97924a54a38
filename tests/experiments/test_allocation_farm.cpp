// tests/experiments/test_allocation_farm.cpp: ila-amp's evaluations farmed out through the run dir
// (issue 6): shard files round-trip NLLs bit for bit; corrupt or stale ones are refused naming the
// file; a run picks up the shards `twla allocate --shard` stored, measures the missing ones, and
// allocates exactly as the same run measuring everything in process. A shard task prepares the
// rotation only (no quantizer, no calibration) and measures the same NLLs.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include "core/error.h"
#include "core/fs.h"
#include "core/paths.h"
#include "experiments/allocation_farm.h"
#include "experiments/descriptor.h"
#include "experiments/pipeline.h"
#include "tests/catch.h"
#include "tests/support/util.h"

namespace fs = std::filesystem;
using namespace twla;

namespace {
using twla::test::temp_dir;
using twla::test::error_of;

YAML::Node ila_run(const std::string& out) {
  YAML::Node t = YAML::Load(
      "{name: farm, quantizer: ternary-threshold, rotation: hadamard, threads: 1,"
      " calibration: {dataset: c4, nsamples: 2, seqlen: 32, seed: 0},"
      " activations: {bits: 4, clip: 0.9, allocator: {name: ila-amp, candidates: [2, 4, 8],"
      "   allocation_windows: 2, allocation_seqlen: 32, clip: fixed}},"
      " eval: {tasks: [tinystories], seqlen: 64, max_windows: 2, batch: 4, kl: false}}");
  t["model"]["path"] = data_dir() + "/models/stories260K";
  t["output"] = out;
  return t;
}
}  // namespace

TEST_CASE("allocation farm: shard files round-trip exactly; corrupt ones name the file", "[experiments]") {
  auto dir = temp_dir("farm-io");
  IlaAmpShardResult r;
  r.key = "abc123";
  r.shard = 1, r.shards = 3;
  r.n_jobs = 27;
  r.jobs = {3, 4, 17};
  r.nll = {0.1, 1.0 / 3.0, std::nextafter(5.0, 6.0)};
  r.base_nll = std::numeric_limits<double>::denorm_min() + 2.718281828459045;
  const std::string f = shard_file(dir.string(), 2, 3);
  CHECK(f == dir.string() + "/allocation/shard-2-of-3.json");
  write_shard(f, r);
  const IlaAmpShardResult b = read_shard(f);
  CHECK(b.key == r.key);
  CHECK(b.shard == 1);
  CHECK(b.shards == 3);
  CHECK(b.n_jobs == 27);
  CHECK(b.jobs == r.jobs);
  CHECK(b.nll == r.nll);   // bit-identical doubles
  CHECK(b.base_nll == r.base_nll);
  CHECK(b.file == f);
  CHECK(shard_counts_in(dir.string()) == std::vector<int>{3});

  const std::string text = shard_json(r);
  write_file_atomic(f, text.substr(0, text.size() / 2));   // truncated
  auto e = error_of([&] { read_shard(f); });
  CHECK(e.find("shard file '" + f + "'") != std::string::npos);
  write_file_atomic(f, "{\"format\": \"twla-ila-amp-shard\", \"version\": 1, \"allocation_key\": \"abc\"}");
  e = error_of([&] { read_shard(f); });
  CHECK(e.find("'" + f + "' has no 'shard'") != std::string::npos);
  std::string bad = text;
  bad.replace(bad.find("0.1"), 3, "0.x");   // the first NLL
  write_file_atomic(f, bad);
  e = error_of([&] { read_shard(f); });
  CHECK(e.find("shard file '" + f + "' is not valid JSON") != std::string::npos);
  bad = text;
  bad.replace(bad.find("0.1"), 3, "\"a\"");   // valid JSON, a string where an NLL belongs
  write_file_atomic(f, bad);
  e = error_of([&] { read_shard(f); });
  CHECK(e.find("shard file '" + f + "' has a malformed field") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("allocation farm: a run merges stored shards, measures missing ones, allocates as in process",
          "[experiments][pipeline]") {
  auto dir = temp_dir("farm-run");
  RunOptions quiet;
  quiet.quiet = true;
  // The reference: everything in process, no shards.
  const RunRecord plain = run_experiment(ila_run((dir / "plain").string()), quiet);

  // Shard 1 of 2 stored as `twla allocate --shard 1/2` does: no results, no DONE.
  const std::string out = (dir / "farmed").string();
  RunOptions shard = quiet;
  shard.alloc_shard = 0, shard.alloc_shards = 2;
  const RunRecord s = run_experiment(ila_run(out), shard);
  CHECK(s.status == "shard");
  const std::string run_dir = out + "/farm";
  CHECK(file_exists(shard_file(run_dir, 1, 2)));
  CHECK_FALSE(file_exists(shard_file(run_dir, 2, 2)));
  CHECK_FALSE(file_exists(run_dir + "/results.h5"));
  CHECK_FALSE(file_exists(run_dir + "/DONE"));
  const IlaAmpShardResult one = read_shard(shard_file(run_dir, 1, 2));
  YAML::Node resolved;
  parse_descriptor(ila_run(out), &resolved);
  CHECK(one.key == allocation_key(resolved));
  // The key is the run id less the shard count: other settings change it, the split does not.
  YAML::Node split = YAML::Clone(resolved), other = YAML::Clone(resolved);
  split["activations"]["allocator"]["shards"] = 4;
  other["activations"]["allocator"]["allocation_windows"] = 3;
  CHECK(allocation_key(split) == one.key);
  CHECK(run_id(split) != run_id(resolved));
  CHECK(allocation_key(other) != one.key);

  // The run finds the 2-way split, measures shard 2 here (and stores it), merges.
  const RunRecord farmed = run_experiment(ila_run(out), quiet);
  CHECK(file_exists(shard_file(run_dir, 2, 2)));
  CHECK(farmed.series.at("act_bits") == plain.series.at("act_bits"));
  for (const char* k : {"ila_amp/delta/b2", "ila_amp/delta/b4", "ila_amp/pair_nll/b2_b4", "ila_amp/pair_nll/b4_b2"})
    CHECK(farmed.series.at(k) == plain.series.at(k));
  CHECK(farmed.metrics.at("alloc/base_nll") == plain.metrics.at("alloc/base_nll"));

  // A stale shard (another descriptor's run id) is refused, naming the file.
  std::string text = read_file(shard_file(run_dir, 2, 2));
  text.replace(text.find(one.key), one.key.size(), std::string(one.key.size(), '0'));
  write_file_atomic(shard_file(run_dir, 2, 2), text);
  RunOptions force = quiet;
  force.force = true;
  force.cache_dir = "off";   // else the allocation comes from the stage cache and no shard is read
  const std::string e = error_of([&] { run_experiment(ila_run(out), force); });
  CHECK(e.find("shard file '" + shard_file(run_dir, 2, 2) + "' was measured for key 000") != std::string::npos);
  // A shard split other than the descriptor's is refused.
  YAML::Node three = ila_run(out);
  three["activations"]["allocator"]["shards"] = 3;
  shard.alloc_shard = 0, shard.alloc_shards = 2;
  CHECK(error_of([&] { run_experiment(three, shard); }).find("activations.allocator.shards=3; use --shard k/3") !=
        std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("allocation farm: a shard task prepares the rotation only, never the quantizer; NLLs as in process",
          "[experiments][pipeline]") {
  auto dir = temp_dir("farm-rot");
  RunOptions quiet;
  quiet.quiet = true;
  // KOTMS (trained per linear) with a calibrated quantizer: what a shard must not pay for.
  auto run = [](const std::string& out) {
    YAML::Node t = ila_run(out);
    t["quantizer"] = YAML::Load("{name: gptq}");
    t["rotation"] = YAML::Load("{name: kotms, steps: 3}");
    return t;
  };
  auto rotation_entries = [](const fs::path& out) {
    std::vector<std::string> v;
    if (fs::exists(out / ".cache" / "rotation"))
      for (const auto& e : fs::directory_iterator(out / ".cache" / "rotation")) v.push_back(e.path().filename());
    return v;
  };
  // Cold cache: the shard trains the rotation and stores it; no weights, no calibration.
  const fs::path farmed = dir / "farmed";
  RunOptions shard = quiet;
  shard.alloc_shard = 0, shard.alloc_shards = 2;
  const RunRecord s1 = run_experiment(run(farmed.string()), shard);
  CHECK(s1.status == "shard");
  CHECK(s1.timings.count("rotation") == 1);
  CHECK(s1.timings.count("quantize") == 0);
  CHECK(s1.layers.empty());   // no quantizer stats: no linear was quantized
  CHECK_FALSE(fs::exists(farmed / ".cache" / "weights"));   // the weights stage would publish there
  CHECK_FALSE(fs::exists(farmed / "farm" / "ckpt"));        // calibration would checkpoint there
  CHECK(rotation_entries(farmed).size() == 1);
  shard.alloc_shard = 1;   // shard 2 reads the rotation shard 1 stored
  run_experiment(run(farmed.string()), shard);
  CHECK_FALSE(fs::exists(farmed / ".cache" / "weights"));
  CHECK(rotation_entries(farmed).size() == 1);

  // The same descriptor in process (trains KOTMS in its weights stage, which also publishes it
  // under the same key: the rotation does not depend on the quantizer or the output folder).
  const fs::path plain = dir / "plain";
  const RunRecord in_process = run_experiment(run(plain.string()), quiet);
  CHECK(rotation_entries(plain) == rotation_entries(farmed));
  // The run merges both shards: NLLs from the cached rotation equal the trained one's, bit for bit.
  const RunRecord merged = run_experiment(run(farmed.string()), quiet);
  CHECK(merged.series.at("act_bits") == in_process.series.at("act_bits"));
  for (const char* k : {"ila_amp/delta/b2", "ila_amp/delta/b8", "ila_amp/pair_nll/b2_b4", "ila_amp/pair_nll/b8_b2"})
    CHECK(merged.series.at(k) == in_process.series.at(k));
  CHECK(merged.metrics.at("alloc/base_nll") == in_process.metrics.at("alloc/base_nll"));
  CHECK(merged.metrics.at("ppl/tinystories") == in_process.metrics.at("ppl/tinystories"));

  // After the weights stage: a shard in the in-process run's folder reads its rotation entry and
  // measures what the farmed shard measured.
  shard.alloc_shard = 0;
  run_experiment(run(plain.string()), shard);
  const IlaAmpShardResult a = read_shard(shard_file((farmed / "farm").string(), 1, 2));
  const IlaAmpShardResult b = read_shard(shard_file((plain / "farm").string(), 1, 2));
  CHECK(a.jobs == b.jobs);
  CHECK(a.nll == b.nll);
  CHECK(a.base_nll == b.base_nll);
  fs::remove_all(dir);
}
