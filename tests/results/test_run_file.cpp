// tests/results/test_run_file.cpp: results.h5 round trip, atomic writes, errors on bad files,
// and the directory scan behind `twla report`.
#include <cmath>
#include <functional>
#include <limits>

#include "core/error.h"
#include "results/hdf5.h"
#include "results/run_file.h"
#include "tests/catch.h"
#include "tests/results/fixtures.h"

using namespace twla;
using twla::test::error_of;
using twla::test::TempDir;

namespace {

void require_same_layers(const std::vector<LayerRecord>& a, const std::vector<LayerRecord>& b) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    CAPTURE(i);
    CHECK(a[i].name == b[i].name);
    CHECK(a[i].block == b[i].block);
    CHECK(a[i].weight_err == b[i].weight_err);
    CHECK(a[i].output_err == b[i].output_err);
    CHECK(a[i].bits_per_weight == b[i].bits_per_weight);
    CHECK(a[i].seconds == b[i].seconds);
    CHECK(a[i].extra == b[i].extra);
  }
}

void require_same(const RunRecord& a, const RunRecord& b) {
  CHECK(a.run_id == b.run_id);
  CHECK(a.name == b.name);
  CHECK(a.descriptor_yaml == b.descriptor_yaml);
  CHECK(a.config_flat == b.config_flat);
  CHECK(a.git == b.git);
  CHECK(a.input_sha256 == b.input_sha256);
  CHECK(a.labels == b.labels);
  CHECK(a.metrics == b.metrics);
  CHECK(a.timings == b.timings);
  require_same_layers(a.layers, b.layers);
  CHECK(a.series == b.series);
  CHECK(a.status == b.status);
}

// True when `msg` contains every part (an empty msg, i.e. no throw, never does).
bool mentions(const std::string& msg, std::initializer_list<std::string> parts) {
  CAPTURE(msg);
  if (msg.empty()) return false;
  for (const auto& p : parts)
    if (msg.find(p) == std::string::npos) return false;
  return true;
}

}  // namespace

TEST_CASE("a run file round-trips every field") {
  TempDir dir;
  RunRecord r = test::full_record();
  write_run(dir / "results.h5", r);
  require_same(read_run(dir / "results.h5"), r);
  CHECK(dir.files() == std::vector<std::string>{"results.h5"});
}

TEST_CASE("a default record and empty sections round-trip") {
  TempDir dir;
  RunRecord r;
  write_run(dir / "results.h5", r);
  require_same(read_run(dir / "results.h5"), r);
}

TEST_CASE("long unicode descriptors, many config keys and odd values round-trip") {
  TempDir dir;
  RunRecord r = test::full_record();
  std::string yaml;
  while (yaml.size() < 300000)
    yaml += "# Größe ≈ 7B, 三値量子化, emoji 🧮, tab\t, quote \" '\n";
  r.descriptor_yaml = yaml;
  r.config_flat.clear();
  for (int i = 500; i > 0; --i)  // not sorted: the file keeps descriptor order
    r.config_flat.emplace_back("sweep.k" + std::to_string(i), std::string(size_t(i), 'v'));
  r.metrics["ppl/wikitext2"] = std::numeric_limits<double>::infinity();
  r.metrics["acc/piqa"] = -0.0;
  r.labels["note"] = "";
  write_run(dir / "results.h5", r);
  RunRecord back = read_run(dir / "results.h5");
  require_same(back, r);
  CHECK(back.descriptor_yaml.size() == yaml.size());
}

TEST_CASE("a NaN metric stays NaN") {
  TempDir dir;
  RunRecord r;
  r.metrics["ppl/c4"] = std::nan("");
  write_run(dir / "results.h5", r);
  CHECK(std::isnan(read_run(dir / "results.h5").metrics.at("ppl/c4")));
}

TEST_CASE("a write that fails midway leaves the target untouched and no temp file") {
  TempDir dir;
  std::string path = dir / "results.h5";
  auto section = GENERATE(as<std::string>{}, "root", "config", "attrs", "layers", "series");
  CAPTURE(section);
  testing::set_write_run_hook([&](const std::string& s) {
    if (s == section) throw Error("injected failure after " + s);
  });

  SECTION("no file before") {
    CHECK(mentions(error_of([&] { write_run(path, test::full_record()); }), {"injected"}));
    CHECK(dir.files().empty());
  }
  SECTION("an older run file before") {
    testing::set_write_run_hook(nullptr);
    RunRecord old;
    old.name = "old";
    write_run(path, old);
    std::string before = test::read_text(path);
    testing::set_write_run_hook([&](const std::string& s) {
      if (s == section) throw Error("injected failure after " + s);
    });
    CHECK(mentions(error_of([&] { write_run(path, test::full_record()); }), {"injected"}));
    CHECK(dir.files() == std::vector<std::string>{"results.h5"});
    CHECK(test::read_text(path) == before);
    CHECK(read_run(path).name == "old");
  }
  testing::set_write_run_hook(nullptr);
}

TEST_CASE("an invalid record is refused mid-write with a fix, and nothing is left behind") {
  TempDir dir;
  std::string path = dir / "results.h5";
  RunRecord good;
  good.name = "good";
  write_run(path, good);

  RunRecord dup = test::full_record();
  dup.config_flat.emplace_back("quantizer.bits", "3");
  std::string msg = error_of([&] { write_run(path, dup); });
  CHECK(mentions(msg, {"quantizer.bits", "twice", path}));

  RunRecord unnamed = test::full_record();
  unnamed.layers[1].name = "";
  CHECK(mentions(error_of([&] { write_run(path, unnamed); }), {"layer 1", "no name"}));
  RunRecord empty_key = test::full_record();
  empty_key.metrics[""] = 1;
  CHECK(mentions(error_of([&] { write_run(path, empty_key); }), {"/metrics", "empty name"}));

  CHECK(dir.files() == std::vector<std::string>{"results.h5"});
  CHECK(read_run(path).name == "good");
}

TEST_CASE("overwriting a run file replaces it whole") {
  TempDir dir;
  std::string path = dir / "results.h5";
  write_run(path, test::full_record());
  RunRecord small;
  small.name = "rerun";
  small.metrics["ppl/c4"] = 7;
  small.series["other"] = {1, 2};
  write_run(path, small);
  require_same(read_run(path), small);  // no layer, series or metric of the first run survives
  CHECK(dir.files() == std::vector<std::string>{"results.h5"});
}

TEST_CASE("a missing directory is an error naming it") {
  TempDir dir;
  std::string path = dir / "no/such/dir/results.h5";
  CHECK(mentions(error_of([&] { write_run(path, RunRecord{}); }), {dir / "no/such/dir"}));
}

TEST_CASE("reading a file that is not a run file names the file") {
  TempDir dir;
  SECTION("missing") {
    CHECK(mentions(error_of([&] { read_run(dir / "results.h5"); }),
                   {dir / "results.h5", "no such file"}));
  }
  SECTION("not HDF5") {
    test::write_text(dir / "results.h5", "model: llama\nthis is YAML, not HDF5\n");
    CHECK(mentions(error_of([&] { read_run(dir / "results.h5"); }),
                   {dir / "results.h5", "not an HDF5 file"}));
  }
  SECTION("empty") {
    test::write_text(dir / "results.h5", "");
    CHECK(mentions(error_of([&] { read_run(dir / "results.h5"); }), {dir / "results.h5"}));
  }
  SECTION("truncated") {
    write_run(dir / "full.h5", test::full_record());
    std::string bytes = test::read_text(dir / "full.h5");
    for (size_t keep : {bytes.size() / 2, size_t(1000), size_t(100)}) {
      CAPTURE(keep);
      test::write_text(dir / "results.h5", bytes.substr(0, keep));
      CHECK(mentions(error_of([&] { read_run(dir / "results.h5"); }), {dir / "results.h5"}));
    }
  }
  SECTION("HDF5 but not twla") {
    {
      h5::File f = h5::File::create(dir / "results.h5");
      f.attr("something", 1.0);
      f.close();
    }
    CHECK(mentions(error_of([&] { read_run(dir / "results.h5"); }),
                   {dir / "results.h5", "not a twla run file"}));
  }
  SECTION("newer format") {
    {
      h5::File f = h5::File::create(dir / "new.h5");
      f.attr("format", "twla-run");
      f.attr("format_version", 99);
      f.close();
    }
    CHECK(mentions(error_of([&] { read_run(dir / "new.h5"); }), {dir / "new.h5", "update twla"}));
  }
}

TEST_CASE("read_runs finds every results.h5 below a folder, sorted by name") {
  TempDir dir;
  std::filesystem::create_directories(dir / "sweep/b");
  std::filesystem::create_directories(dir / "sweep/a/deep");
  RunRecord z, a;
  z.name = "zeta";
  a.name = "alpha";
  write_run(dir / "sweep/b/results.h5", z);
  write_run(dir / "sweep/a/deep/results.h5", a);
  test::write_text(dir / "sweep/b/results.h5.tmp.123", "a crashed writer's leftovers");
  write_run(dir / "sweep/other.h5", RunRecord{});  // not named results.h5: not a run of the sweep
  auto runs = read_runs(dir / "sweep");
  REQUIRE(runs.size() == 2);
  CHECK(runs[0].name == "alpha");
  CHECK(runs[1].name == "zeta");
  CHECK(mentions(error_of([&] { read_runs(dir / "nope"); }), {dir / "nope"}));
}
