// tests/experiments/test_check_golden.cpp: `check_golden_dir` (behind `twla check-golden`) on the
// public golden set, and on corrupted copies of cases (every kind whose tests call golden_check),
// which must fail with a readable detail.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <string>

#include "core/fs.h"
#include "core/paths.h"
#include "core/safetensors.h"
#include "experiments/golden_check.h"
#include "tests/catch.h"
#include "tests/support/util.h"

using namespace twla;
namespace fs = std::filesystem;

namespace {
using twla::test::temp_dir;
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
  // The kinds whose tests call golden_check part by part: one E2M-ATQ mask entry flipped, one
  // primitive fit moved, one KOTMS loss moved by 1e-8 relative, one LAC SSE by 1e-3.
  copy_case("e2m_atq_full_16x192_dead_partial", d, [](auto& t) {
    t["block1.mask_sal_hi"][3][5] = 1 - t["block1.mask_sal_hi"][3][5];
  });
  copy_case("e2m_atq_primitives_16x128", d, [](auto& t) { t["rand.x_o2"][2][9] += 1e-3f; });
  copy_case("kotms_32x256", d, [](auto& t) { t["given_cli_f64.losses"][2] *= 1 + 1e-8; });
  copy_case("lac_search_64to32", d, [](auto& t) { t["A4.sse"][3] *= 1.001; });
  auto results = golden::check_golden_dir(d.string());
  REQUIRE(results.size() == 8);
  std::map<std::string, golden::CaseResult> by;
  for (const auto& r : results) {
    std::printf("corrupted %s: %s\n", r.name.c_str(), r.detail.c_str());
    CHECK_FALSE(r.pass);
    by[r.name] = r;
  }
  auto says = [&](const std::string& name, const std::string& what) {
    INFO(name << ": " << by.at(name).detail);
    return by.at(name).detail.find(what) != std::string::npos;
  };
  CHECK(says("gptq_4bit_g128_asym_32x256", "codes differs (1 of 8192 entries)"));
  CHECK(says("ila_amp_dp_L6", "k (of 1e-15 abs)"));
  CHECK(says("rtn_3bit_g128_asym_32x256", "no tensor 'scale'"));
  const auto& rtn = by.at("rtn_4bit_perchannel_asym_32x256");
  CHECK(rtn.max_err_ratio > 1);
  CHECK(says(rtn.name, "Q (of 1e-7 abs)"));
  CHECK_FALSE(says(rtn.name, "codes"));
  CHECK(says("e2m_atq_full_16x192_dead_partial", "block1.mask_sal_hi differs (1 of 1024 entries)"));
  CHECK(says("e2m_atq_primitives_16x128", "rand.x_o2 (rtol 1e-5, atol 1e-7)"));
  CHECK(says("kotms_32x256", "given_cli_f64.losses[2]"));
  CHECK(says("lac_search_64to32", "A4.sse"));
  fs::remove_all(d);
}
