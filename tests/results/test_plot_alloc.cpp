// tests/results/test_plot_alloc.cpp: the allocation plots behind `twla plot bits|delta`: PNGs
// appear for runs with the series ILA-AMP writes; runs without them are errors saying what to do.
#include "core/error.h"
#include "results/plot.h"
#include "tests/catch.h"
#include "tests/results/fixtures.h"

using namespace twla;
using twla::test::is_png;
using twla::test::error_of;
using twla::test::TempDir;

namespace {
RunRecord ila_run() {
  RunRecord r;
  r.name = "ila-amp";
  r.series["act_bits"] = {4, 6, 2, 4, 4};
  for (int b : {2, 4, 6, 8}) {
    std::vector<double> d;
    for (int i = 0; i < 5; ++i) d.push_back(b == 8 ? 0.0 : (i + 1) * 0.1 / b);
    r.series["ila_amp/delta/b" + std::to_string(b)] = d;
  }
  return r;
}
}  // namespace

TEST_CASE("plot bits and delta heat map write PNGs; missing series are clear errors") {
  TempDir dir;
  RunRecord uni;
  uni.name = "uniform";
  uni.series["act_bits"] = {4, 4, 4, 4, 4};
  RunRecord old;
  old.name = "old-run";
  if (!plots_built() || !gnuplot_found()) {
    WARN("no gnuplot: drawing not tested");
    return;
  }
  plot_bits_per_block({ila_run(), uni}, dir / "bits.png");
  plot_delta_heatmap(ila_run(), dir / "delta.png");
  CHECK(is_png(dir / "bits.png"));
  CHECK(is_png(dir / "delta.png"));
  std::string m = error_of([&] { plot_bits_per_block({uni, old}, dir / "x.png"); });
  CHECK(m.find("old-run have no series 'act_bits'") != std::string::npos);
  m = error_of([&] { plot_delta_heatmap(uni, dir / "x.png"); });
  CHECK(m.find("has no ILA-AMP delta table") != std::string::npos);
  CHECK(dir.files().size() == 2);
}
