// results/paper_table.cpp: see paper_table.h. Orders: models as the paper lists them, then by
// name; within a model A bits descending (A16, A6, A4), then FP16, RTN, GPTQ, Hadamard+GPTQ,
// E2M-ATQ, TWLA (baselines first, ours last, as the paper).
#include "results/paper_table.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>
#include <tuple>

#include "core/strings.h"
#include "results/report.h"
#include "results/text_table.h"

namespace twla {

namespace {
std::string label(const RunRecord& r, const std::string& k) {
  auto it = r.labels.find(k);
  return it == r.labels.end() ? "" : it->second;
}

int rank_in(const std::vector<std::string>& order, const std::string& s) {
  auto it = std::find(order.begin(), order.end(), s);
  return it == order.end() ? int(order.size()) : int(it - order.begin());
}

int model_rank(const std::string& model) {
  static const std::vector<std::string> order{
      "Llama-2-7b-hf", "Llama-2-13b-hf", "Llama-2-70b-hf", "Meta-Llama-3-8B", "Qwen3-8B",
      "Qwen3-14B", "Qwen3-32B"};
  return rank_in(order, model);
}

int method_rank(const std::string& m) {
  static const std::vector<std::string> order{"FP16", "RTN", "GPTQ", "Hadamard+GPTQ", "E2M-ATQ", "TWLA"};
  return rank_in(order, m);
}

// Columns: header text, metric key (report.h's metric_value), scale.
struct Column {
  std::string header, key;
  double scale;
};

std::vector<Column> metric_columns(const std::vector<RunRecord>& runs) {
  static const std::vector<std::pair<std::string, std::string>> tasks{
      {"PIQA", "acc/piqa"},         {"ARC-e", "acc/arc_easy"},         {"ARC-c", "acc/arc_challenge"},
      {"HellaS.", "acc/hellaswag"}, {"Wino.", "acc/winogrande"},       {"LAMB-o", "acc/lambada_openai"},
      {"LAMB-s", "acc/lambada_standard"}};
  std::vector<Column> cols{{"Wiki2 PPL", "ppl/wikitext2", 1}, {"C4 PPL", "ppl/c4", 1}};
  auto any = [&](const std::string& key) {
    double v;
    for (const auto& r : runs)
      if (metric_value(r, key, &v)) return true;
    return false;
  };
  std::set<std::string> other_ppl;  // tinystories, text:PATH: after the paper's two
  for (const auto& r : runs)
    for (const auto& [k, v] : r.metrics)
      if (starts_with(k, "ppl/") && k != "ppl/wikitext2" && k != "ppl/c4") other_ppl.insert(k);
  for (const auto& k : other_ppl) cols.push_back({k.substr(4) + " PPL", k, 1});
  for (const auto& [h, k] : tasks)
    if (any(k)) cols.push_back({h, k, 100});
  if (any("avg7")) cols.push_back({"Avg", "avg7", 100});
  return cols;
}
}  // namespace

namespace {
// " w/o stage2, feedback" for the quantizer switches a run turned off (ablation rows).
std::string switches_off(const RunRecord& r) {
  std::vector<std::string> off;
  for (const auto& [k, v] : r.config_flat)
    if (starts_with(k, "quantizer.") && v == "false" && k != "quantizer.compat_reference")
      off.push_back(k.substr(10));
  return off.empty() ? "" : " w/o " + join(off, ", ");
}

std::string method_base(const RunRecord& r) {
  std::string q = label(r, "method"), rot = label(r, "rotation");
  bool rotated = !rot.empty() && rot != "none";
  if (q == "fp") return rotated ? "FP16+" + rot : "FP16";
  if (q == "rtn" || q == "ternary-absmean" || q == "ternary-threshold") return rotated ? rot + "+RTN" : "RTN";
  if (q == "gptq") return rot == "hadamard" ? "Hadamard+GPTQ" : rotated ? rot + "+GPTQ" : "GPTQ";
  if (q == "e2m-atq") return rot == "kotms" ? "TWLA" : rotated ? "E2M-ATQ+" + rot : "E2M-ATQ";
  return rotated ? q + "+" + rot : q;
}
}  // namespace

std::string paper_method(const RunRecord& r) { return method_base(r) + switches_off(r); }

std::string paper_abits(const RunRecord& r) {
  std::string a = label(r, "abits"), alloc = label(r, "allocator");
  return !alloc.empty() && alloc != "uniform" && a != "16" ? a + " (mixed)" : a;
}

PaperTable paper_table(const std::vector<RunRecord>& runs, int digits) {
  std::vector<const RunRecord*> order;
  for (const auto& r : runs) order.push_back(&r);
  auto key = [](const RunRecord* r) {
    std::string model = label(*r, "model");
    double a = std::atof(label(*r, "abits").c_str());
    return std::make_tuple(model_rank(model), model, -a, paper_abits(*r),
                           method_rank(method_base(*r)), paper_method(*r), r->name);
  };
  std::stable_sort(order.begin(), order.end(),
                   [&](const RunRecord* a, const RunRecord* b) { return key(a) < key(b); });
  PaperTable t;
  auto cols = metric_columns(runs);
  t.header = {"Model", "Method", "#W", "#A"};
  for (const auto& c : cols) t.header.push_back(c.header);
  std::string prev_model = "\x01";
  for (const RunRecord* r : order) {
    std::string model = label(*r, "model");
    if (model != prev_model) t.group_starts.push_back(t.rows.size());
    std::vector<std::string> row{model != prev_model ? model : "", paper_method(*r),
                                 label(*r, "wbits"), paper_abits(*r)};
    prev_model = model;
    for (const auto& c : cols) {
      double v = 0;
      row.push_back(metric_value(*r, c.key, &v) ? fixed(v * c.scale, digits) : "");
    }
    t.rows.push_back(row);
  }
  return t;
}

std::string paper_markdown(const std::vector<RunRecord>& runs, int digits) {
  PaperTable p = paper_table(runs, digits);
  TextTable t;
  t.header = p.header;
  t.right.assign(p.header.size(), true);
  std::fill(t.right.begin(), t.right.begin() + 4, false);
  for (auto row : p.rows) {
    for (size_t i = 4; i < row.size(); ++i)
      if (row[i].empty()) row[i] = "–";
    t.rows.push_back(row);
  }
  return t.markdown();
}

std::string paper_latex(const std::vector<RunRecord>& runs, int digits) {
  PaperTable p = paper_table(runs, digits);
  auto esc = [](std::string s) {
    std::string out;
    for (char c : s) out += (c == '_' || c == '&' || c == '%' || c == '#') ? std::string("\\") + c : std::string(1, c);
    return out;
  };
  auto line = [&](const std::vector<std::string>& cells) {
    std::vector<std::string> e;
    for (const auto& c : cells) e.push_back(c.empty() ? "" : esc(c));
    return join(e, " & ") + " \\\\\n";
  };
  std::vector<std::string> h = p.header;
  for (size_t i = 4; i < h.size(); ++i)
    h[i] += h[i].find("PPL") != std::string::npos ? " $\\downarrow$" : " $\\uparrow$";
  std::string out = "\\begin{tabular}{llcc" + std::string(p.header.size() - 4, 'r') + "}\n\\toprule\n" +
                    line(h) + "\\midrule\n";
  for (size_t i = 0; i < p.rows.size(); ++i) {
    if (i > 0 && std::count(p.group_starts.begin(), p.group_starts.end(), i)) out += "\\midrule\n";
    auto row = p.rows[i];
    for (size_t c = 4; c < row.size(); ++c)
      if (row[c].empty()) row[c] = "--";
    out += line(row);
  }
  return out + "\\bottomrule\n\\end{tabular}\n";
}

}  // namespace twla
