// results/paper_plots.cpp: see paper_plots.h.
#include "results/paper_plots.h"

#include <set>

#include "core/fs.h"
#include "results/paper_table.h"
#include "results/plot.h"

namespace twla {

namespace {
std::string file_safe(const std::string& s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.') ? c : '_';
  return out;
}

bool has_output_err(const RunRecord& r) {
  for (const auto& l : r.layers)
    if (l.output_err >= 0) return true;
  return false;
}
}  // namespace

void plot_ppl_vs_abits(const std::vector<RunRecord>& runs, const std::string& dataset,
                       const std::string& png) {
  std::vector<RunRecord> named = runs;
  for (auto& r : named) r.labels["paper_method"] = paper_method(r);
  plot_metric_vs(named, "abits", "ppl/" + dataset, "paper_method", png);
}

void plot_layer_error(const RunRecord& run, const std::string& png) {
  plot_layer_stat(run, has_output_err(run) ? "output_err" : "weight_err", png);
}

void plot_block_bits(const RunRecord& run, const std::string& png) { plot_series(run, "act_bits", png); }

std::vector<std::string> paper_plots(const std::vector<RunRecord>& runs, const std::string& dir) {
  make_dirs(dir);
  std::vector<std::string> out;
  std::set<std::string> datasets, abits;
  for (const auto& r : runs) {
    for (const auto& [k, v] : r.metrics)
      if (k.rfind("ppl/", 0) == 0) datasets.insert(k.substr(4));
    if (r.labels.count("abits")) abits.insert(r.labels.at("abits"));
  }
  if (abits.size() > 1)  // a curve needs more than one activation width
    for (const auto& ds : datasets) {
      out.push_back(dir + "/ppl_vs_abits_" + file_safe(ds) + ".png");
      plot_ppl_vs_abits(runs, ds, out.back());
    }
  for (const auto& r : runs) {
    if (!r.layers.empty()) {
      out.push_back(dir + "/layer_error_" + file_safe(r.name) + ".png");
      plot_layer_error(r, out.back());
    }
    auto a = r.labels.find("allocator");
    if (a != r.labels.end() && a->second != "uniform" && r.series.count("act_bits")) {
      out.push_back(dir + "/block_bits_" + file_safe(r.name) + ".png");
      plot_block_bits(r, out.back());
    }
  }
  return out;
}

}  // namespace twla
