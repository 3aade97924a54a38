// tests/experiments/test_check_golden.cpp: `check_golden_dir` (behind `twla check-golden`) on the
// public golden set, and on corrupted copies of cases, which must fail with a readable detail.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>

#include "core/fs.h"
#include "core/paths.h"
#include "core/safetensors.h"
#include "experiments/golden_check.h"
#include "tests/catch.h"

using namespace twla;
namespace fs = std::filesystem;

namespace {
fs::path temp_dir(const std::string& tag) {
  auto p = fs::temp_directory_path() / ("twla-" + tag + "-" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}
// Copies case `name` of the public set into `to`, with `edit` applied to its tensors.
void copy_case(const std::string& name, const fs::path& to,
               const std::function<void(std::map<std::string, Tensor>&)>& edit) {
  const std::string src = data_dir() + "/golden/" + name;
  fs::copy_file(src + ".json", to / (name + ".json"), fs::copy_options::overwrite_existing);
  SafetensorsFile f(src + ".safetensors");
  std::map<std::string, Tensor> t;
  for (const auto& n : f.names()) t[n] = f.load_raw(n);
  edit(t);
  write_safetensors((to / (name + ".safetensors")).string(), t);
}
}  // namespace

TEST_CASE("check-golden: every public case passes, ila-amp DP and LAC cases included") {
  auto results = golden::check_golden_dir(data_dir() + "/golden");
  REQUIRE(results.size() >= 16);
  int failed = 0, skipped = 0;
  for (const auto& r : results) {
    CAPTURE(r.name, r.kind, r.detail, r.max_err_ratio);
    std::printf("%-46s %s %.3g [%s] %s\n", r.name.c_str(),
                r.skipped ? "SKIP" : r.pass ? "PASS" : "FAIL", r.max_err_ratio, r.kind.c_str(),
                r.detail.c_str());
    CHECK_FALSE(r.skipped);
    CHECK(r.pass);
    CHECK(r.max_err_ratio <= 1);
    CHECK_FALSE(r.kind.empty());
    failed += !r.pass && !r.skipped;
    skipped += r.skipped;
  }
  CHECK(failed == 0);
  CHECK(skipped == 0);
  for (const char* k : {"ila_amp_dp", "lac_search"})
    CHECK(std::count_if(results.begin(), results.end(), [&](const auto& r) { return r.kind == k; }) >= 1);
}

TEST_CASE("check-golden: a corrupted copy fails and says what and by how much") {
  fs::path d = temp_dir("golden-bad");
  // One RTN output entry off by a step's worth: Q fails, codes are untouched.
  copy_case("rtn_4bit_perchannel_asym_32x256", d, [](auto& t) { t["Q"][5][3] += 0.01f; });
  // A GPTQ code flipped.
  copy_case("gptq_4bit_g128_asym_32x256", d, [](auto& t) { t["codes"][7][9] += 1; });
  // A tensor the kind needs is missing.
  copy_case("rtn_3bit_g128_asym_32x256", d, [](auto& t) { t.erase("scale"); });
  // One measured pair NLL moved by 1e-9: the interaction table fails its 1e-15 tolerance.
  copy_case("ila_amp_dp_L6", d, [](auto& t) { t["pair_nll"][1][0][0] += 1e-9; });
  auto results = golden::check_golden_dir(d.string());
  REQUIRE(results.size() == 4);
  for (const auto& r : results) std::printf("corrupted %s: %s\n", r.name.c_str(), r.detail.c_str());
  const auto& gptq = results[0];
  CHECK(gptq.name == "gptq_4bit_g128_asym_32x256");
  CHECK_FALSE(gptq.pass);
  CHECK(gptq.detail.find("codes differs (1 of 8192 entries)") != std::string::npos);
  CHECK_FALSE(results[1].pass);
  CHECK(results[1].detail.find("k (of 1e-15 abs)") != std::string::npos);
  const auto& miss = results[2];
  CHECK_FALSE(miss.pass);
  CHECK(miss.detail.find("no tensor 'scale'") != std::string::npos);
  const auto& rtn = results[3];
  CHECK(rtn.name == "rtn_4bit_perchannel_asym_32x256");
  CHECK_FALSE(rtn.pass);
  CHECK(rtn.max_err_ratio > 1);
  CHECK(rtn.detail.find("Q (of 1e-7 abs)") != std::string::npos);
  CHECK(rtn.detail.find("codes") == std::string::npos);
  fs::remove_all(d);
}
