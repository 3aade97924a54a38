// tests/experiments/test_descriptor.cpp: descriptor include/override/sweep resolution and the
// errors a user sees for bad descriptors.
#include <filesystem>
#include <fstream>

#include "core/fs.h"
#include "experiments/descriptor.h"
#include "experiments/sweep.h"
#include "tests/catch.h"
#include "tests/support/util.h"

namespace {
namespace fs = std::filesystem;

struct TempDir {
  fs::path p;
  TempDir() {
    p = fs::temp_directory_path() / ("twla-desc-" + std::to_string(::getpid()) + "-" +
                                     std::to_string(std::rand()));
    fs::create_directories(p);
  }
  ~TempDir() { fs::remove_all(p); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(p / name) << text;
    return (p / name).string();
  }
};

using twla::test::error_of;
bool has(const std::string& s, const std::string& sub) { return s.find(sub) != std::string::npos; }
}  // namespace

TEST_CASE("descriptor: include, then the file, then overrides", "[descriptor]") {
  TempDir t;
  t.write("base.yaml", "model: {path: /m}\neval: {seqlen: 128, tasks: [c4]}\n");
  auto f = t.write("exp.yaml", "include: base.yaml\nname: x\neval: {seqlen: 256}\n");
  YAML::Node tree = twla::load_descriptor_tree(f, {"quantizer=rtn", "quantizer.bits=3"});
  YAML::Node resolved;
  auto d = twla::parse_descriptor(tree, &resolved);
  CHECK(d.model.path == "/m");
  CHECK(d.eval.seqlen == 256);
  CHECK(d.eval.tasks == std::vector<std::string>{"c4"});
  CHECK(d.quantizer.name == "rtn");
  CHECK(resolved["quantizer"]["bits"].as<int>() == 3);
  // Resolved descriptors list every field, plugin defaults included.
  CHECK(resolved["quantizer"]["group_size"].IsDefined());
  CHECK(resolved["calibration"]["nsamples"].as<int>() == 128);
}

TEST_CASE("descriptor: the run id follows the numbers, not the output folder", "[descriptor]") {
  YAML::Node a = YAML::Load("{model: {path: /m}, output: a, threads: 1}");
  YAML::Node b = YAML::Load("{model: {path: /m}, output: b, threads: 2}");
  YAML::Node c = YAML::Load("{model: {path: /m}, eval: {seqlen: 512}}");
  YAML::Node ra, rb, rc;
  twla::parse_descriptor(a, &ra);
  twla::parse_descriptor(b, &rb);
  twla::parse_descriptor(c, &rc);
  CHECK(twla::run_id(ra) == twla::run_id(rb));
  CHECK(twla::run_id(ra) != twla::run_id(rc));
}

TEST_CASE("descriptor: errors name the field and a fix", "[descriptor]") {
  auto parse = [](const std::string& y) { twla::parse_descriptor(YAML::Load(y)); };
  auto e1 = error_of([&] { parse("{model: {path: /m}, evl: {seqlen: 4}}"); });
  CHECK(has(e1, "unknown descriptor field 'evl'"));
  CHECK(has(e1, "did you mean 'eval'"));
  auto e2 = error_of([&] { parse("{model: {path: /m}, eval: {seqlen: long}}"); });
  CHECK(has(e2, "eval.seqlen"));
  CHECK(has(e2, "an integer"));
  auto e3 = error_of([&] { parse("{model: {path: /m}, quantizer: gtpq}"); });
  CHECK(has(e3, "unknown quantizer"));
  auto e4 = error_of([&] { parse("{eval: {seqlen: 4}}"); });
  CHECK(has(e4, "model.path"));
  auto e5 = error_of([&] { parse("{model: {path: /m}, quantizer: {name: fp, bits: 3}}"); });
  CHECK(has(e5, "quantizer.bits"));
  auto e6 = error_of([] { twla::load_descriptor_tree("/nonexistent/x.yaml", {}); });
  CHECK(has(e6, "/nonexistent/x.yaml"));
  TempDir t;
  auto bad = t.write("bad.yaml", "model: {path: /m\n");
  CHECK(has(error_of([&] { twla::load_descriptor_tree(bad, {}); }), "not valid YAML"));
  CHECK(has(error_of([&] { twla::load_descriptor_tree(bad, {"noequals"}); }), "not valid YAML"));
}

TEST_CASE("sweep: list x grid, names, duplicates", "[sweep]") {
  YAML::Node base = YAML::Load("{name: s, model: {path: /m}}");
  YAML::Node sweep = YAML::Load(
      "{list: [{name: fp, quantizer: fp}, {name: r, quantizer: rtn}], grid: {eval.seqlen: [64, 128]}}");
  auto runs = twla::expand_sweep(base, sweep);
  REQUIRE(runs.size() == 4);
  CHECK(runs[0].name == "fp-64");
  CHECK(runs[3].name == "r-128");
  CHECK(runs[3].tree["quantizer"].as<std::string>() == "rtn");
  YAML::Node dup = YAML::Load("{list: [{name: a}, {name: a}]}");
  CHECK(has(error_of([&] { twla::expand_sweep(base, dup); }), "two runs named 'a'"));
  YAML::Node grid = YAML::Load("{grid: {activations.bits: [4, 8]}}");
  auto g = twla::expand_sweep(base, grid);
  REQUIRE(g.size() == 2);
  CHECK(g[0].name == "s-4");
  CHECK(g[1].tree["activations"]["bits"].as<int>() == 8);
  YAML::Node zip = YAML::Load("{zip: {calibration.seed: [0, 1, 2], eval.seqlen: [8, 16]}}");
  CHECK(has(error_of([&] { twla::expand_sweep(base, zip); }), "sweep.zip"));
}

TEST_CASE("descriptor: compat: reference reaches the plugins that have the switch", "[descriptor]") {
  YAML::Node r1, r2, r3;
  twla::parse_descriptor(YAML::Load("{model: {path: /m}, quantizer: e2m-atq, compat: reference}"), &r1);
  CHECK(r1["quantizer"]["compat_reference"].as<bool>());
  twla::parse_descriptor(YAML::Load("{model: {path: /m}, quantizer: e2m-atq}"), &r2);
  CHECK(!r2["quantizer"]["compat_reference"].as<bool>());
  twla::parse_descriptor(YAML::Load(
      "{model: {path: /m}, quantizer: {name: e2m-atq, compat_reference: false}, compat: reference}"), &r3);
  CHECK(!r3["quantizer"]["compat_reference"].as<bool>());
}
