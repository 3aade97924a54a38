// results/report.cpp: the run comparison tables of report.h. One list of columns and one cell
// text per run feed all three formats; only the escaping and the framing differ.
// Not here: reading runs (run_file.cpp). Task order: TWLA, arXiv 2606.13054, zero-shot table.
#include "results/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <tuple>

#include "core/error.h"
#include "core/strings.h"
#include "results/aggregate.h"
#include "results/text_table.h"

namespace twla {

const std::vector<std::string>& avg7_tasks() {
  static const std::vector<std::string> tasks{
      "acc/piqa",       "acc/arc_easy",       "acc/arc_challenge",   "acc/hellaswag",
      "acc/winogrande", "acc/lambada_openai", "acc/lambada_standard"};
  return tasks;
}

namespace {

constexpr const char* kAvg7 = "avg7";

int kind_rank(const std::string& key) {
  std::string kind = key.substr(0, key.find('/'));
  if (kind == "ppl") return 0;
  if (kind == "kl") return 1;
  if (kind == "top1") return 2;
  if (starts_with(kind, "acc")) return 3;
  return 4;
}

int dataset_rank(const std::string& key) {
  static const std::vector<std::string> order{
      "wikitext2", "c4",         "ptb",           "piqa",           "arc_easy",
      "arc_challenge", "hellaswag", "winogrande", "lambada_openai", "lambada_standard"};
  size_t slash = key.find('/');
  std::string dataset = slash == std::string::npos ? "" : key.substr(slash + 1);
  auto it = std::find(order.begin(), order.end(), dataset);
  return it == order.end() ? int(order.size()) : int(it - order.begin());
}

bool has_avg7(const RunRecord& r) {
  for (const auto& t : avg7_tasks())
    if (!r.metrics.count(t)) return false;
  return true;
}

// The fixed label columns: header, label key.
const std::vector<std::pair<std::string, std::string>>& label_columns() {
  static const std::vector<std::pair<std::string, std::string>> cols{
      {"name", ""}, {"method", "method"}, {"W bits", "wbits"}, {"A bits", "abits"},
      {"rotation", "rotation"}};
  return cols;
}

// One run's cells: the label columns, then one optional number per metric column.
struct Row {
  std::vector<std::string> labels;
  std::vector<std::pair<bool, double>> values;
};

std::vector<Row> table_rows(const std::vector<RunRecord>& runs,
                            const std::vector<std::string>& metrics) {
  std::vector<Row> rows;
  for (const RunRecord& r : runs) {
    Row row;
    for (const auto& [header, key] : label_columns()) {
      if (key.empty()) { row.labels.push_back(r.name); continue; }
      auto it = r.labels.find(key);
      row.labels.push_back(it == r.labels.end() ? "" : it->second);
    }
    for (const std::string& m : metrics) {
      double v = 0;
      bool ok = metric_value(r, m, &v);
      row.values.emplace_back(ok, v);
    }
    rows.push_back(row);
  }
  return rows;
}

std::vector<std::string> headers(const std::vector<std::string>& metrics) {
  std::vector<std::string> h;
  for (const auto& c : label_columns()) h.push_back(c.first);
  h.insert(h.end(), metrics.begin(), metrics.end());
  return h;
}

std::string number(double v, int digits) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fixed(v, digits);
}

// The shortest text that reads back as the same double.
std::string exact_number(double v) {
  if (!std::isfinite(v)) return number(v, 0);
  char buf[64];
  for (int p = 1; p <= 17; ++p) {
    std::snprintf(buf, sizeof buf, "%.*g", p, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

std::string latex_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '\\': out += "\\textbackslash{}"; break;
      case '~': out += "\\textasciitilde{}"; break;
      case '^': out += "\\textasciicircum{}"; break;
      case '&': case '%': case '$': case '#': case '_': case '{': case '}':
        out += '\\';
        out += c;
        break;
      default: out += c;
    }
  }
  return out;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

std::vector<std::string> ordered_metrics(std::vector<std::string> keys) {
  auto kind = [](const std::string& k) { return k.substr(0, k.find('/')); };
  std::sort(keys.begin(), keys.end(), [&](const std::string& a, const std::string& b) {
    return std::make_tuple(kind_rank(a), kind(a), dataset_rank(a), a) <
           std::make_tuple(kind_rank(b), kind(b), dataset_rank(b), b);
  });
  return keys;
}

bool metric_value(const RunRecord& r, const std::string& column, double* value) {
  if (column == kAvg7) {
    if (!has_avg7(r)) return false;
    double sum = 0;
    for (const auto& t : avg7_tasks()) sum += r.metrics.at(t);
    *value = sum / double(avg7_tasks().size());
    return true;
  }
  auto it = r.metrics.find(column);
  if (it == r.metrics.end()) return false;
  *value = it->second;
  return true;
}

std::vector<std::string> table_metrics(const std::vector<RunRecord>& runs, const TableOptions& o) {
  std::set<std::string> present;
  bool avg7 = false;
  for (const RunRecord& r : runs) {
    for (const auto& kv : r.metrics) present.insert(kv.first);
    avg7 = avg7 || has_avg7(r);
  }
  if (!o.metrics.empty()) {
    std::vector<std::string> known(present.begin(), present.end());
    known.push_back(kAvg7);
    for (const std::string& m : o.metrics) {
      bool found = present.count(m) || (m == kAvg7 && avg7);
      TWLA_CHECK(runs.empty() || found, "report metric '", m, "': no run has it;",
                 did_you_mean(m, known), " metrics present: ",
                 join({present.begin(), present.end()}, ", "));
    }
    return o.metrics;
  }
  std::vector<std::string> cols = ordered_metrics({present.begin(), present.end()});
  if (avg7) {   // right after the acc/* columns it averages
    auto last_acc = std::find_if(cols.rbegin(), cols.rend(),
                                 [](const std::string& k) { return starts_with(k, "acc/"); });
    cols.insert(last_acc.base(), kAvg7);
  }
  return cols;
}

// Markdown and LaTeX show a standard deviation (aggregate.h) beside its mean, not as a column.
std::vector<std::string> without_sd(std::vector<std::string> metrics) {
  metrics.erase(std::remove_if(metrics.begin(), metrics.end(),
                               [](const std::string& m) { return ends_with(m, kSdSuffix); }),
                metrics.end());
  return metrics;
}

std::string mean_cell(const RunRecord& r, const std::string& metric, double v, int digits,
                      const std::string& pm) {
  auto sd = r.metrics.find(metric + kSdSuffix);
  std::string s = number(v, digits);
  return sd == r.metrics.end() ? s : s + pm + number(sd->second, digits);
}

std::string report_markdown(const std::vector<RunRecord>& runs, const TableOptions& o) {
  std::vector<std::string> metrics = without_sd(table_metrics(runs, o));
  TextTable t;
  t.header = headers(metrics);
  t.right.assign(label_columns().size(), false);
  t.right.resize(t.header.size(), true);
  size_t i = 0;
  for (const Row& row : table_rows(runs, metrics)) {
    std::vector<std::string> cells;
    for (const auto& l : row.labels) cells.push_back(l.empty() ? "–" : l);
    for (size_t c = 0; c < metrics.size(); ++c) {
      const auto& [ok, v] = row.values[c];
      cells.push_back(ok ? mean_cell(runs[i], metrics[c], v, o.digits, " ± ") : "–");
    }
    t.rows.push_back(cells);
    ++i;
  }
  return t.markdown();
}

std::string report_latex(const std::vector<RunRecord>& runs, const TableOptions& o) {
  std::vector<std::string> metrics = without_sd(table_metrics(runs, o));
  std::vector<std::string> h = headers(metrics);
  std::string spec(label_columns().size(), 'l');
  spec += std::string(metrics.size(), 'r');
  auto line = [](const std::vector<std::string>& cells) { return join(cells, " & ") + " \\\\\n"; };
  for (auto& c : h) c = latex_escape(c);
  std::string out = "\\begin{tabular}{" + spec + "}\n\\toprule\n" + line(h) + "\\midrule\n";
  size_t i = 0;
  for (const Row& row : table_rows(runs, metrics)) {
    std::vector<std::string> cells;
    for (const auto& l : row.labels) cells.push_back(latex_escape(l.empty() ? "--" : l));
    for (size_t c = 0; c < metrics.size(); ++c) {
      const auto& [ok, v] = row.values[c];
      cells.push_back(ok ? mean_cell(runs[i], metrics[c], v, o.digits, " $\\pm$ ") : "--");
    }
    out += line(cells);
    ++i;
  }
  return out + "\\bottomrule\n\\end{tabular}\n";
}

std::string report_csv(const std::vector<RunRecord>& runs, const TableOptions& o) {
  std::vector<std::string> metrics = table_metrics(runs, o);
  std::vector<std::string> h = headers(metrics);
  h.push_back("run_id");   // so a CSV row joins back to its results.h5
  auto line = [](const std::vector<std::string>& cells) {
    std::vector<std::string> quoted;
    for (const auto& c : cells) quoted.push_back(csv_field(c));
    return join(quoted, ",") + "\n";
  };
  std::string out = line(h);
  size_t i = 0;
  for (const Row& row : table_rows(runs, metrics)) {
    std::vector<std::string> cells = row.labels;
    for (const auto& [ok, v] : row.values) cells.push_back(ok ? exact_number(v) : "");
    cells.push_back(runs[i++].run_id);
    out += line(cells);
  }
  return out;
}

}  // namespace twla
