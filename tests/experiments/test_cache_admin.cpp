// tests/experiments/test_cache_admin.cpp: `twla cache` underneath (experiments/cache_admin.h):
// listing finds every published entry with its size, time and summary, skips unfinished temp
// folders; pruning by stage and age removes exactly those entries (none on a dry run), and the
// cache still serves the rest.
#include <filesystem>
#include <fstream>

#include "experiments/cache_admin.h"
#include "experiments/stage_cache.h"
#include "tests/catch.h"
#include "tests/support/util.h"

namespace fs = std::filesystem;
using namespace twla;

namespace {
std::string publish(const StageCache& c, const std::string& stage, const std::string& deps_yaml, size_t bytes) {
  const YAML::Node deps = YAML::Load(deps_yaml);
  const std::string key = StageCache::key(deps);
  c.publish(stage, key, deps, [&](const std::string& dir) { std::ofstream(dir + "/payload.bin") << std::string(bytes, 'x'); });
  return key;
}
}  // namespace

TEST_CASE("cache admin: list and prune by stage and age", "[cache]") {
  const fs::path root = test::temp_dir("cache-admin");
  const StageCache c(root.string());
  const std::string w = publish(c, "weights", "{model: {path: /m/stories260K}, quantizer: {name: e2m-atq}}", 1000);
  const std::string e1 = publish(c, "eval", "{task: wikitext2, activations: {bits: 4}}", 10);
  const std::string e2 = publish(c, "eval", "{task: c4, activations: {bits: 4}}", 20);
  fs::create_directories(root / "eval" / (e1 + ".tmp.123"));   // an unfinished publish: not an entry

  auto all = list_cache(root.string());
  REQUIRE(all.size() == 3);
  CHECK(all[0].stage == "eval");
  CHECK(all[2].stage == "weights");
  CHECK(all[2].key == w);
  CHECK(all[2].bytes > 1000);   // payload + deps.yaml + MANIFEST
  CHECK(all[2].summary == "model=stories260K quantizer=e2m-atq");

  // e1 written 10 days ago.
  const auto old = fs::file_time_type::clock::now() - std::chrono::hours(24 * 10);
  fs::last_write_time(root / "eval" / e1 / "MANIFEST", old);
  auto dry = prune_cache(root.string(), "", 5, true);
  REQUIRE(dry.size() == 1);
  CHECK(dry[0].key == e1);
  CHECK(list_cache(root.string()).size() == 3);   // a dry run removes nothing

  auto gone = prune_cache(root.string(), "", 5, false);
  REQUIRE(gone.size() == 1);
  CHECK_FALSE(fs::exists(root / "eval" / e1));
  CHECK(c.lookup("eval", e2) != "");   // the rest still served
  CHECK(c.lookup("weights", w) != "");

  gone = prune_cache(root.string(), "weights", -1, false);
  REQUIRE(gone.size() == 1);
  CHECK(c.lookup("weights", w) == "");
  CHECK(list_cache(root.string()).size() == 1);

  CHECK(test::error_of([&] { list_cache((root / "nope").string()); }).find("cache folder") != std::string::npos);
  fs::remove_all(root);
}
