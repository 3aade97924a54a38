// tests/support/golden_cases.h: the golden tests' one way to compare a case with the reference:
// experiments/golden_check (what `twla check-golden` runs), so the tolerances live in one place.
// Every case of a kind is found by name prefix, so added cases of that kind are tested too.
// Header-only: a test binary that includes it links twla_experiments (tests/CMakeLists.txt).
// Not here: checks that are not golden comparisons (packing, compat switches, other inputs),
// which stay in the tests beside these calls.
#pragma once
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "experiments/golden_check.h"
#include "tests/catch.h"
#include "tests/support/golden.h"

namespace twla::test {

// Names (no extension) of the golden cases starting with `prefix` that have both files.
inline std::vector<std::string> golden_cases(const std::string& prefix) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(golden_dir())) {
    fs::path p = e.path();
    if (p.extension() != ".json" || p.stem().string().rfind(prefix, 0) != 0) continue;
    if (fs::exists(fs::path(p).replace_extension(".safetensors"))) out.push_back(p.stem().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// CHECKs every `prefix` case through check_golden_case; returns how many ran.
inline int check_golden_cases(const std::string& prefix) {
  const auto names = golden_cases(prefix);
  for (const auto& n : names) {
    const auto r = twla::golden::check_golden_case(golden_dir(), n);
    INFO(n << " [" << r.kind << "]: worst " << r.max_err_ratio << " of tolerance; " << r.detail);
    CHECK_FALSE(r.skipped);
    CHECK(r.pass);
  }
  return int(names.size());
}

// CHECKs one part of golden case `name`: `part` is one of experiments/golden_check.h's per-kind
// check functions (e.g. golden::check_e2m_stored_search). Prints the part's result line and
// returns its Checks, for tighter margins than the tolerance (Checks::worst).
inline golden::Checks check_golden_part(const std::string& name,
                                        void (*part)(const golden::Case&, golden::Checks&),
                                        const char* part_name) {
  golden::Checks c;
  golden::CaseResult r;
  r.name = name;
  part(golden::load_case(golden_dir(), name), c);
  c.fill(r);
  std::printf("golden %s, %s: %s, worst %.3g of tolerance; %s\n", name.c_str(), part_name,
              r.pass ? "pass" : "FAIL", r.max_err_ratio, r.detail.c_str());
  INFO(name << " " << part_name << ": worst " << r.max_err_ratio << " of tolerance; " << r.detail);
  CHECK(r.pass);
  return c;
}
// Spells the part's name once: CHECK_GOLDEN_PART("kotms_32x256", check_kotms_runs).
#define CHECK_GOLDEN_PART(name, part) ::twla::test::check_golden_part(name, ::twla::golden::part, #part)

}  // namespace twla::test
