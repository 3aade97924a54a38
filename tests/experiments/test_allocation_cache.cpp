// tests/experiments/test_allocation_cache.cpp: ILA-AMP's allocation through the stage cache
// (experiments/allocation_cache.h): a run that changes only what it evaluates, or how the search
// is run, reuses the measured allocation (same bits, clips, tables and the first run's own
// timings); one that changes what the allocation depends on measures again; results equal a run
// without the cache.
#include <filesystem>

#include "core/paths.h"
#include "experiments/pipeline.h"
#include "tests/catch.h"
#include "tests/support/util.h"

namespace fs = std::filesystem;
using namespace twla;

namespace {
YAML::Node ila_run(const std::string& name, const fs::path& out) {
  YAML::Node t = YAML::Load(
      "{quantizer: ternary-threshold, rotation: hadamard, threads: 1,"
      " calibration: {dataset: c4, nsamples: 2, seqlen: 32, seed: 0},"
      " activations: {bits: 4, clip: 0.9, allocator: {name: ila-amp, candidates: [2, 4, 8],"
      "   allocation_windows: 2, allocation_seqlen: 32, lac: {samples: 1, grid_size: 20, grid_step: 0.025}}},"
      " eval: {tasks: [tinystories], seqlen: 64, max_windows: 2, batch: 4, kl: false}}");
  t["name"] = name;
  t["model"]["path"] = data_dir() + "/models/stories260K";
  t["output"] = out.string();
  return t;
}
int entries(const fs::path& d) {
  return fs::exists(d) ? int(std::distance(fs::directory_iterator(d), fs::directory_iterator{})) : 0;
}
// Everything the allocation put into the record, timings included.
void check_same_allocation(const RunRecord& a, const RunRecord& b, bool same_timings) {
  CHECK(a.series.at("act_bits") == b.series.at("act_bits"));
  CHECK(a.series.at("act_clip") == b.series.at("act_clip"));
  int tables = 0;
  for (const auto& [k, v] : a.series)
    if (k.rfind("ila_amp/", 0) == 0) {
      CAPTURE(k);
      CHECK(b.series.at(k) == v);
      ++tables;
    }
  CHECK(tables > 0);
  for (const auto& [k, v] : a.timings)
    if (k.rfind("allocate/", 0) == 0) CHECK((b.timings.at(k) == v) == same_timings);
}
}  // namespace

TEST_CASE("allocation cache: ILA-AMP is measured once per what it depends on", "[experiments][pipeline]") {
  const fs::path dir = test::temp_dir("alloc-cache");
  RunOptions o;
  o.quiet = true;
  o.cache_dir = (dir / "cache").string();
  const RunRecord first = run_experiment(ila_run("a", dir / "runs"), o);
  REQUIRE(entries(dir / "cache" / "allocation") == 1);

  // Another eval setting and another search mode: the allocation comes from the cache (the
  // first run's own timings show it was not measured again).
  YAML::Node t = ila_run("b", dir / "runs");
  t["eval"]["max_windows"] = 3;
  t["activations"]["allocator"]["search"] = "naive";
  const RunRecord reused = run_experiment(t, o);
  CHECK(entries(dir / "cache" / "allocation") == 1);
  check_same_allocation(first, reused, true);

  // The same run without a cache: the same allocation, measured (other timings).
  RunOptions off = o;
  off.cache_dir = "off";
  t["name"] = "c";
  const RunRecord fresh = run_experiment(t, off);
  check_same_allocation(first, fresh, false);
  CHECK(fresh.metrics == reused.metrics);

  // What the allocation depends on changes: measured again, a second entry.
  YAML::Node u = ila_run("d", dir / "runs");
  u["activations"]["allocator"]["beta"] = 0.25;
  run_experiment(u, o);
  CHECK(entries(dir / "cache" / "allocation") == 2);
  fs::remove_all(dir);
}
