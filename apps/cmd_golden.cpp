// apps/cmd_golden.cpp: `twla check-golden [DIR]`: every golden case in DIR (default
// <data-dir>/golden), one line each, then "N passed, N failed, N skipped"; exit 1 on any failure.
// Thin: the checks are experiments/golden_check.*.
#include <cmath>
#include <cstdio>
#include <iostream>

#include "apps/commands.h"
#include "core/error.h"
#include "core/paths.h"
#include "experiments/golden_check.h"

namespace twla::cli {

int cmd_check_golden(const Args& a) {
  if (!a.empty() && (a[0] == "--help" || a[0] == "-h")) {
    std::cout << "usage: twla check-golden [DIR]\n"
                 "  runs every case (<name>.json + <name>.safetensors) in DIR (default "
                 "<data-dir>/golden) against this build;\n  prints name, PASS/FAIL/SKIP, the worst "
                 "error as a fraction of its tolerance (<= 1 passes) and the worst or failing "
                 "quantities.\n";
    return 0;
  }
  TWLA_CHECK(a.size() <= 1, "twla check-golden takes one folder, got ", a.size(),
             " arguments; usage: twla check-golden [DIR]");
  const std::string dir = a.empty() ? data_dir() + "/golden" : a[0];
  int passed = 0, failed = 0, skipped = 0;
  for (const auto& r : golden::check_golden_dir(dir)) {
    if (r.skipped) {
      ++skipped;
      std::printf("%-46s SKIP  (%s)\n", r.name.c_str(), r.detail.c_str());
    } else {
      ++(r.pass ? passed : failed);
      std::printf("%-46s %s  max err %9.3g of tol  [%s] %s\n", r.name.c_str(), r.pass ? "PASS" : "FAIL",
                  r.max_err_ratio, r.kind.c_str(), r.detail.c_str());
    }
    std::fflush(stdout);
  }
  std::printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  return failed ? 1 : 0;
}

}  // namespace twla::cli
