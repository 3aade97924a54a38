// apps/cmd_plot.cpp: `twla plot KIND RESULTS... [--layer NAME] [-o PNG]`: PNG figures of result
// files through results/plot.h. A kind is one row of the table below (name, help, draw); add rows
// for new kinds.
// RESULTS are results.h5 files or folders (every results.h5 below them).
#include <filesystem>
#include <functional>
#include <iostream>

#include "apps/commands.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/strings.h"
#include "results/plot.h"
#include "results/run_file.h"

namespace twla::cli {

namespace {
struct PlotOptions {
  std::string layer;   // --layer NAME
};
struct PlotKind {
  std::string name, help;
  bool one_run;     // draws a single run
  bool per_layer;   // takes --layer
  std::function<void(const std::vector<RunRecord>&, const PlotOptions&, const std::string& png)> draw;
};
using Runs = std::vector<RunRecord>;

const std::vector<PlotKind>& plot_kinds() {
  static const std::vector<PlotKind> k{
      {"bits", "activation bits per decoder block, one curve per run (ILA-AMP vs uniform)", false,
       false, [](const Runs& r, const PlotOptions&, const std::string& png) { plot_bits_per_block(r, png); }},
      {"delta", "ILA-AMP delta-NLL heat map, block x candidate width (one run)", true, false,
       [](const Runs& r, const PlotOptions&, const std::string& png) { plot_delta_heatmap(r[0], png); }},
      {"hist", "one linear's weight histogram before/after rotation (one run, --layer NAME)", true,
       true, [](const Runs& r, const PlotOptions& o, const std::string& png) {
         plot_rotation_hist(r[0], o.layer, png);
       }},
      {"loss", "KOTMS loss per step, every linear or --layer NAME (one run)", true, true,
       [](const Runs& r, const PlotOptions& o, const std::string& png) {
         plot_rotation_loss(r[0], o.layer, png);
       }},
  };
  return k;
}

std::string usage() {
  std::string u = "usage: twla plot KIND RESULTS.h5|DIR ... [--layer NAME] [-o OUT.png]; kinds:";
  for (const auto& k : plot_kinds()) u += " " + k.name + " (" + k.help + ");";
  return u;
}
}  // namespace

int cmd_plot(const Args& a) {
  if (!a.empty() && (a[0] == "--help" || a[0] == "-h")) {
    std::cout << usage() << "\n";
    return 0;
  }
  TWLA_CHECK(!a.empty(), "twla plot needs a kind; ", usage());
  std::vector<std::string> names;
  for (const auto& k : plot_kinds()) names.push_back(k.name);
  const PlotKind* kind = nullptr;
  for (const auto& k : plot_kinds())
    if (k.name == a[0]) kind = &k;
  TWLA_CHECK(kind, "twla plot: unknown kind '", a[0], "'", did_you_mean(a[0], names), "; ", usage());
  std::string out;
  PlotOptions opt;
  std::vector<RunRecord> runs;
  for (size_t i = 1; i < a.size(); ++i) {
    if (a[i] == "-o" || a[i] == "--output") {
      TWLA_CHECK(i + 1 < a.size(), "twla plot: ", a[i], " needs a file name; ", usage());
      out = a[++i];
      continue;
    }
    if (a[i] == "--layer") {
      TWLA_CHECK(i + 1 < a.size(), "twla plot: --layer needs a linear name, e.g. ",
                 "layers.0.mlp.up_proj; ", usage());
      TWLA_CHECK(kind->per_layer, "twla plot ", kind->name, " takes no --layer (hist and loss do)");
      opt.layer = a[++i];
      continue;
    }
    TWLA_CHECK(!starts_with(a[i], "-"), "twla plot: unknown flag '", a[i], "'; ", usage());
    if (dir_exists(a[i])) {
      auto rs = read_runs(a[i]);
      TWLA_CHECK(!rs.empty(), "twla plot: no results.h5 below '", a[i], "'; run an experiment first");
      runs.insert(runs.end(), rs.begin(), rs.end());
    } else {
      runs.push_back(read_run(a[i]));
    }
  }
  TWLA_CHECK(!runs.empty(), "twla plot ", kind->name, ": give a results.h5 file or a folder; ", usage());
  TWLA_CHECK(!kind->one_run || runs.size() == 1, "twla plot ", kind->name, " draws one run, got ",
             runs.size(), "; give one results.h5");
  if (out.empty()) out = kind->name + ".png";
  kind->draw(runs, opt, out);
  std::cout << "wrote " << out << "\n";
  return 0;
}

}  // namespace twla::cli
