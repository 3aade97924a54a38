// tests/results/test_plot_rotation.cpp: the rotation plots behind `twla plot hist|loss`: clear
// errors for runs without rotation stats and for unknown layers (checked without gnuplot), PNGs
// for runs with them (skipped with a message where gnuplot is missing).
#include "core/error.h"
#include "results/plot.h"
#include "tests/catch.h"
#include "tests/results/fixtures.h"

using namespace twla;
using twla::test::is_png;
using twla::test::error_of;
using twla::test::TempDir;

namespace {
RunRecord rotated_run() {
  RunRecord r;
  r.name = "w158a4-kotms";
  const std::vector<std::string> layers{"layers.0.self_attn.q_proj", "layers.0.mlp.down_proj"};
  std::vector<double> edges;
  for (int k = 0; k <= 10; ++k) edges.push_back(-5.0 + k);
  r.series["rotation_hist/edges"] = edges;
  for (const auto& l : layers) {
    r.layers.push_back(LayerRecord{l, 0});
    r.series["rotation_hist/before/" + l] = {3, 0, 1, 20, 300, 310, 25, 1, 0, 4};
    r.series["rotation_hist/after/" + l] = {0, 0, 2, 40, 280, 290, 50, 2, 0, 0};
    r.series["rotation_loss/" + l] = {1.0, 0.8, 0.7, 0.65, 0.64};
  }
  return r;
}
}  // namespace

TEST_CASE("plot hist/loss: runs without rotation stats and unknown layers are clear errors") {
  TempDir dir;
  RunRecord plain;
  plain.name = "w158a4-none";
  plain.layers.push_back(LayerRecord{"layers.0.self_attn.q_proj", 0});
  std::string m = error_of([&] { plot_rotation_hist(plain, "layers.0.self_attn.q_proj", dir / "h.png"); });
  CHECK(m.find("has no rotation weight histograms") != std::string::npos);
  CHECK(m.find("rotation: hadamard or kotms") != std::string::npos);
  m = error_of([&] { plot_rotation_loss(plain, "", dir / "l.png"); });
  CHECK(m.find("has no rotation loss curves") != std::string::npos);

  RunRecord r = rotated_run();
  m = error_of([&] { plot_rotation_hist(r, "layers.0.self_attn.k_proj", dir / "h.png"); });
  CHECK(m.find("has no layer 'layers.0.self_attn.k_proj'") != std::string::npos);
  CHECK(m.find("did you mean 'layers.0.self_attn.q_proj'") != std::string::npos);
  m = error_of([&] { plot_rotation_hist(r, "", dir / "h.png"); });
  CHECK(m.find("give --layer NAME") != std::string::npos);
  m = error_of([&] { plot_rotation_loss(r, "layers.9.mlp.up_proj", dir / "l.png"); });
  CHECK(m.find("has no layer 'layers.9.mlp.up_proj'") != std::string::npos);
  r.series["rotation_hist/after/layers.0.mlp.down_proj"].pop_back();
  m = error_of([&] { plot_rotation_hist(r, "layers.0.mlp.down_proj", dir / "h.png"); });
  CHECK(m.find("does not match rotation_hist/edges") != std::string::npos);
  CHECK(dir.files().empty());
}

TEST_CASE("plot hist/loss write PNGs for a rotated run") {
  if (!plots_built() || !gnuplot_found()) {
    WARN("no gnuplot (built without gnuplot-iostream or not on PATH): drawing not tested");
    return;
  }
  TempDir dir;
  RunRecord r = rotated_run();
  plot_rotation_hist(r, "model.layers.0.self_attn.q_proj", dir / "hist.png");   // "model." accepted
  plot_rotation_loss(r, "", dir / "loss.png");
  plot_rotation_loss(r, "layers.0.mlp.down_proj", dir / "loss1.png");
  for (const char* f : {"hist.png", "loss.png", "loss1.png"}) CHECK(is_png(dir / f));
  CHECK(dir.files().size() == 3);
}
