// results/plot_rotation.cpp: the rotation plots of plot.h (`twla plot hist|loss`): figures from
// the series experiments/rotation_stats.h writes, errors that say which runs have them and which
// layers exist. Not here: gnuplot (plot.cpp), the statistics (rotations/weight_stats.h).
#include <algorithm>
#include <numeric>

#include "core/error.h"
#include "core/strings.h"
#include "results/plot.h"
#include "results/plot_figure.h"

namespace twla {

using plot_detail::Curve;
using plot_detail::Figure;

namespace {
const std::string kHist = "rotation_hist/", kLoss = "rotation_loss/";

// Layer names of the series below `prefix` ("rotation_loss/" + layer), in the run's layer order
// (then any others, sorted).
std::vector<std::string> layers_with(const RunRecord& r, const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& l : r.layers)
    if (r.series.count(prefix + l.name)) out.push_back(l.name);
  for (const auto& [name, v] : r.series)
    if (starts_with(name, prefix)) {
      std::string layer = name.substr(prefix.size());
      if (std::find(out.begin(), out.end(), layer) == out.end()) out.push_back(layer);
    }
  return out;
}

// `layer` as stored: exact, or without a leading "model."; Error listing what exists otherwise.
std::string find_layer(const RunRecord& r, const std::vector<std::string>& known,
                       const std::string& layer, const std::string& png) {
  for (const std::string& cand : {layer, starts_with(layer, "model.") ? layer.substr(6) : layer})
    if (std::find(known.begin(), known.end(), cand) != known.end()) return cand;
  std::string hint = did_you_mean(layer, known);   // "; did you mean 'x'?" or "; valid: <all>"
  if (!starts_with(hint, "; did you mean")) {
    std::vector<std::string> first(known.begin(), known.begin() + std::min<size_t>(known.size(), 8));
    hint = "; its " + std::to_string(known.size()) + " layers are " + join(first, ", ") +
           (known.size() > first.size() ? ", ..." : "");
  }
  TWLA_FAIL("plot '", png, "': run '", r.name, "' has no layer '", layer, "'", hint,
            " (--layer NAME; `twla show` lists the layers)");
}
}  // namespace

void plot_rotation_hist(const RunRecord& r, const std::string& layer, const std::string& png) {
  const auto known = layers_with(r, kHist + "after/");
  auto edges = r.series.find(kHist + "edges");
  TWLA_CHECK(!known.empty() && edges != r.series.end(), "plot '", png, "': run '", r.name,
             "' has no rotation weight histograms (series rotation_hist/...); plot a run with "
             "rotation: hadamard or kotms, made by a twla with issue 5's rotation stats");
  TWLA_CHECK(!layer.empty(), "plot '", png, "': hist draws one layer; give --layer NAME, e.g. ",
             known.front());
  const std::string name = find_layer(r, known, layer, png);
  const std::vector<double>& e = edges->second;
  Figure f;
  f.title = r.name + ": " + name + " weights before/after rotation";
  f.xlabel = "weight / RMS of the unrotated layer (end bins hold what lies beyond)";
  f.ylabel = "fraction of weights";
  f.with = "steps linewidth 2";
  for (const char* side : {"before", "after"}) {
    auto it = r.series.find(kHist + side + "/" + name);
    TWLA_CHECK(it != r.series.end() && it->second.size() + 1 == e.size(), "plot '", png,
               "': run '", r.name, "': the ", side, " histogram of ", name,
               " is missing or does not match rotation_hist/edges; the file is damaged");
    const double total = std::accumulate(it->second.begin(), it->second.end(), 0.0);
    Curve c{std::string(side) + " rotation", {}, ""};
    // gnuplot's `steps` holds each y until the next x: one point per bin's left edge, then the
    // last edge again so the final bin gets its width.
    for (size_t k = 0; k < it->second.size(); ++k)
      c.points.emplace_back(e[k], total > 0 ? it->second[k] / total : 0.0);
    c.points.emplace_back(e.back(), c.points.back().second);
    f.curves.push_back(c);
  }
  render(f, png);
}

void plot_rotation_loss(const RunRecord& r, const std::string& layer, const std::string& png) {
  const auto known = layers_with(r, kLoss);
  TWLA_CHECK(!known.empty(), "plot '", png, "': run '", r.name,
             "' has no rotation loss curves (series rotation_loss/...); plot a run with "
             "rotation: kotms (the learned rotation; hadamard has no training loss)");
  std::vector<std::string> names = known;
  if (!layer.empty()) names = {find_layer(r, known, layer, png)};
  Figure f;
  f.title = r.name + ": rotation loss per step, " +
            (names.size() == 1 ? names[0] : std::to_string(names.size()) + " linears");
  f.xlabel = "optimizer step";
  f.ylabel = "loss";
  f.with = "lines linewidth 1.5";
  f.key = names.size() <= 12;   // 35+ titles would cover the plot
  for (const auto& n : names) {
    Curve c{n, {}, ""};
    const auto& v = r.series.at(kLoss + n);
    for (size_t i = 0; i < v.size(); ++i) c.points.emplace_back(double(i), v[i]);
    f.curves.push_back(c);
  }
  plot_detail::check_points(f, png, "the loss curves of run '" + r.name + "' are empty");
  render(f, png);
}

}  // namespace twla
