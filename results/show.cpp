// results/show.cpp: format_run (declared in report.h), the text of `twla show`. Sections a run
// lacks are left out, so a run stopped early still prints what it has.
// Not here: tables across runs (report.cpp).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "core/strings.h"
#include "results/report.h"
#include "results/text_table.h"

namespace twla {

namespace {

std::string g4(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

TextTable pairs() { return TextTable{{}, {}, {false, false}}; }

std::string layer_table(const std::vector<LayerRecord>& layers) {
  std::set<std::string> extra;
  for (const auto& l : layers)
    for (const auto& kv : l.extra) extra.insert(kv.first);
  TextTable t;
  t.header = {"#", "name", "block", "weight_err", "output_err", "bits", "seconds"};
  t.header.insert(t.header.end(), extra.begin(), extra.end());
  t.right.assign(t.header.size(), true);
  t.right[1] = false;
  for (size_t i = 0; i < layers.size(); ++i) {
    const LayerRecord& l = layers[i];
    std::vector<std::string> row{std::to_string(i), l.name, std::to_string(l.block),
                                 g4(l.weight_err), l.output_err < 0 ? "–" : g4(l.output_err),
                                 g4(l.bits_per_weight), g4(l.seconds)};
    for (const auto& k : extra) {
      auto it = l.extra.find(k);
      row.push_back(it == l.extra.end() ? "–" : g4(it->second));
    }
    t.rows.push_back(row);
  }
  return t.plain();
}

std::string series_summary(const std::vector<double>& v) {
  constexpr size_t kShown = 8;
  std::string s = "n=" + std::to_string(v.size());
  if (v.empty()) return s;
  auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  s += "  min " + g4(*lo) + "  max " + g4(*hi) + "  [";
  for (size_t i = 0; i < std::min(v.size(), kShown); ++i) s += (i ? ", " : "") + g4(v[i]);
  return s + (v.size() > kShown ? ", …]" : "]");
}

std::string indent_text(const std::string& text) {
  std::string out;
  for (const std::string& line : split(text, '\n')) out += line.empty() ? "\n" : "  " + line + "\n";
  while (out.size() >= 2 && out[out.size() - 1] == '\n' && out[out.size() - 2] == '\n')
    out.pop_back();
  return out;
}

}  // namespace

std::string format_run(const RunRecord& r) {
  TextTable head = pairs();
  head.rows = {{"run", r.name}, {"id", r.run_id}, {"status", r.status}, {"git", r.git}};
  std::string out = head.plain("");

  auto section = [&out](const std::string& title, const TextTable& t) {
    if (t.rows.empty()) return;
    out += title + "\n" + t.plain();
  };
  TextTable inputs = pairs(), labels = pairs(), metrics = pairs(), timings = pairs();
  for (const auto& [k, v] : r.input_sha256) inputs.rows.push_back({k, v});
  for (const auto& [k, v] : r.labels) labels.rows.push_back({k, v});
  std::vector<std::string> keys;
  for (const auto& kv : r.metrics) keys.push_back(kv.first);
  keys = ordered_metrics(keys);
  double avg = 0;
  if (metric_value(r, "avg7", &avg)) keys.push_back("avg7");
  for (const auto& k : keys) {
    double v = 0;
    metric_value(r, k, &v);
    metrics.rows.push_back({k, fixed(v, 4)});
  }
  for (const auto& [k, v] : r.timings) timings.rows.push_back({k, format_duration(v)});
  metrics.right = timings.right = {false, true};
  section("inputs", inputs);
  section("labels", labels);
  section("metrics", metrics);
  section("timings", timings);
  if (!r.layers.empty())
    out += "layers (" + std::to_string(r.layers.size()) + ")\n" + layer_table(r.layers);
  TextTable series = pairs();
  for (const auto& [k, v] : r.series) series.rows.push_back({k, series_summary(v)});
  section("series", series);
  if (!r.descriptor_yaml.empty()) {
    out += "descriptor\n" + indent_text(r.descriptor_yaml);
  } else {
    TextTable config = pairs();   // no descriptor text: the flat config is the next best thing
    for (const auto& [k, v] : r.config_flat) config.rows.push_back({k, v});
    section("config", config);
  }
  return out;
}

}  // namespace twla
