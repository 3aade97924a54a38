// tests/results/test_aggregate.cpp: `twla report --mean-over FIELD` — runs differing only in one
// descriptor field folded into mean ± sample sd rows.
#include <cmath>

#include "core/error.h"
#include "results/aggregate.h"
#include "results/report.h"
#include "tests/catch.h"
#include "tests/results/fixtures.h"

using namespace twla;

namespace {

RunRecord seeded(const std::string& rot, int seed, double ppl, double kl) {
  RunRecord r;
  r.name = "rot-" + std::to_string(seed) + "-" + rot;
  r.run_id = r.name;
  r.labels = {{"method", "e2m-atq"}, {"wbits", "1.58"}, {"abits", "4"}, {"rotation", rot}};
  r.config_flat = {{"name", r.name},
                   {"output", "runs"},
                   {"calibration.seed", std::to_string(seed)},
                   {"rotation.name", rot}};
  r.metrics = {{"ppl/tinystories", ppl}, {"kl/tinystories", kl}};
  return r;
}

}  // namespace

TEST_CASE("aggregate: mean and sample sd per group, groups in first-run order") {
  std::vector<RunRecord> runs{seeded("none", 0, 60, 2.0), seeded("hadamard", 0, 50, 1.0),
                              seeded("none", 1, 70, 2.5), seeded("hadamard", 1, 54, 1.5),
                              seeded("none", 2, 65, 3.0)};
  runs[4].metrics.erase("kl/tinystories");   // a metric only some members have is left out
  auto m = mean_over(runs, "calibration.seed");
  REQUIRE(m.size() == 2);
  CHECK(m[0].name == "rot-none (n=3)");
  CHECK(m[1].name == "rot-hadamard (n=2)");
  CHECK(m[0].metrics.at("ppl/tinystories") == Approx(65.0));
  CHECK(m[0].metrics.at("ppl/tinystories@sd") == Approx(5.0));   // sd of 60, 70, 65
  CHECK(m[0].metrics.count("kl/tinystories") == 0);
  CHECK(m[1].metrics.at("ppl/tinystories") == Approx(52.0));
  CHECK(m[1].metrics.at("ppl/tinystories@sd") == Approx(std::sqrt(8.0)));
  CHECK(m[1].metrics.at("kl/tinystories") == Approx(1.25));
  for (const auto& kv : m[0].config_flat)
    if (kv.first == "calibration.seed") CHECK(kv.second == "*");

  const std::string md = report_markdown(m);
  CHECK(md.find("65.00 ± 5.00") != std::string::npos);
  CHECK(md.find("@sd") == std::string::npos);   // beside the mean, not a column
  CHECK(report_latex(m).find("52.00 $\\pm$ 2.83") != std::string::npos);
  CHECK(report_csv(m).find("ppl/tinystories@sd") != std::string::npos);   // CSV: its own column
}

TEST_CASE("aggregate: a field no run has is an error naming it and a near field") {
  std::vector<RunRecord> runs{seeded("none", 0, 60, 2.0)};
  const std::string e = test::error_of([&] { mean_over(runs, "calibration.sed"); });
  CHECK(e.find("calibration.sed") != std::string::npos);
  CHECK(e.find("calibration.seed") != std::string::npos);
}
