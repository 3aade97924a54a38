// tests/results/test_plot.cpp: gnuplot PNGs appear (PNG magic, non-empty) and bad requests are
// errors naming what exists. Skips the drawing where gnuplot is not built in or not installed.
#include <cstdlib>
#include <functional>

#include "core/error.h"
#include "results/plot.h"
#include "tests/catch.h"
#include "tests/results/fixtures.h"

using namespace twla;
using twla::test::is_png;
using twla::test::error_of;
using twla::test::TempDir;

namespace {

std::vector<RunRecord> sweep() {
  std::vector<RunRecord> runs;
  for (const char* method : {"rtn", "e2m_atq"})
    for (int abits : {4, 6, 8, 16}) {
      RunRecord r;
      r.name = std::string(method) + "-a" + std::to_string(abits);
      r.labels = {{"method", method}, {"abits", std::to_string(abits)}, {"rotation", "kotms"}};
      r.metrics["ppl/wikitext2"] = (method[0] == 'r' ? 40.0 : 9.0) * 16.0 / abits;
      runs.push_back(r);
    }
  return runs;
}

bool can_draw() {
  if (!plots_built()) {
    WARN("built without gnuplot-iostream: drawing not tested");
    return false;
  }
  if (!gnuplot_found()) {
    WARN("gnuplot is not on PATH: drawing not tested");
    return false;
  }
  return true;
}
}  // namespace

TEST_CASE("plots write PNG files") {
  if (!can_draw()) return;
  TempDir dir;
  RunRecord r = test::full_record();
  plot_metric_vs(sweep(), "abits", "ppl/wikitext2", "method", dir / "ppl_vs_abits.png");
  plot_metric_vs(sweep(), "rotation", "ppl/wikitext2", "", dir / "ppl_vs_rotation.png");
  plot_layer_stat(r, "weight_err", dir / "werr.png");
  plot_layer_stat(r, "output_err", dir / "oerr.png");
  plot_layer_stat(r, "damp", dir / "damp.png");
  plot_series(r, "act_bits", dir / "act bits 'quoted'.png");
  for (const char* f : {"ppl_vs_abits.png", "ppl_vs_rotation.png", "werr.png", "oerr.png",
                        "damp.png", "act bits 'quoted'.png"}) {
    CAPTURE(f);
    CHECK(is_png(dir / f));
  }
  CHECK(dir.files().size() == 6);  // no temp files left
}

TEST_CASE("plot requests that match nothing are errors naming what exists") {
  TempDir dir;
  RunRecord r = test::full_record();
  if (!plots_built()) {
    CHECK(error_of([&] { plot_series(r, "act_bits", dir / "x.png"); }).find("gnuplot-iostream") !=
          std::string::npos);
    return;
  }
  std::string m =
      error_of([&] { plot_metric_vs(sweep(), "abit", "ppl/wikitext2", "", dir / "x.png"); });
  CHECK(m.find("did you mean 'abits'") != std::string::npos);
  m = error_of([&] { plot_metric_vs(sweep(), "abits", "ppl/c4", "", dir / "x.png"); });
  CHECK(m.find("ppl/c4") != std::string::npos);
  m = error_of([&] { plot_layer_stat(r, "weight_error", dir / "x.png"); });
  CHECK(m.find("did you mean 'weight_err'") != std::string::npos);
  m = error_of([&] { plot_series(r, "act_bit", dir / "x.png"); });
  CHECK(m.find("did you mean 'act_bits'") != std::string::npos);
  m = error_of([&] { plot_series(r, "empty", dir / "x.png"); });
  CHECK(m.find("empty") != std::string::npos);
  CHECK(dir.files().empty());
}

TEST_CASE("a missing folder or a failing gnuplot is an error, and no file is left") {
  if (!can_draw()) return;
  TempDir dir;
  RunRecord r = test::full_record();
  std::string m = error_of([&] { plot_series(r, "act_bits", dir / "no/such/x.png"); });
  CHECK(m.find(dir / "no/such") != std::string::npos);
  r.series["big"] = std::vector<double>(50000, 1.0);   // more than a pipe buffer: EPIPE, not death
  ::setenv("GNUPLOT_IOSTREAM_CMD", "false", 1);         // exits at once, reads nothing
  m = error_of([&] { plot_series(r, "big", dir / "x.png"); });
  ::unsetenv("GNUPLOT_IOSTREAM_CMD");
  CHECK(m.find("gnuplot wrote no image") != std::string::npos);
  CHECK(dir.files().empty());
}
