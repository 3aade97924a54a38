// results/report.h: one run as text (`twla show`), and comparison tables over runs (rows = runs)
// as Markdown, LaTeX and CSV. Table columns: name, method, W bits, A bits, rotation (from RunRecord::labels), then metrics; a
// missing value prints "–" (Markdown), "--" (LaTeX) or nothing (CSV).
// Not here: reading run files (run_file.h), plots (plot.h).
#pragma once
#include <string>
#include <vector>

#include "results/run_record.h"

namespace twla {

struct TableOptions {
  // Metric columns by key ("ppl/wikitext2", "avg7"); empty = every metric some run has, in
  // paper order: ppl/* then kl/* then top1/* then acc/* (then avg7 when it applies), other acc*
  // kinds (acc_norm/*), then the rest; within a kind WikiText-2, C4, then the paper's task order.
  std::vector<std::string> metrics;
  int digits = 2;   // decimals in Markdown and LaTeX; CSV keeps full precision
};

// The paper's seven zero-shot tasks; "avg7" is their mean, shown when a run has all seven.
const std::vector<std::string>& avg7_tasks();
// Metric keys in paper order (see TableOptions::metrics).
std::vector<std::string> ordered_metrics(std::vector<std::string> keys);
// The metric columns a table over `runs` gets under `o`.
std::vector<std::string> table_metrics(const std::vector<RunRecord>& runs, const TableOptions& o);
// A run's value for a column ("avg7" included); false when it has none.
bool metric_value(const RunRecord& r, const std::string& column, double* value);

// `twla show`: header, provenance, labels, metrics, timings, the per-layer table, series and the
// resolved descriptor; sections a run lacks are left out (show.cpp).
std::string format_run(const RunRecord& r);

std::string report_markdown(const std::vector<RunRecord>& runs, const TableOptions& o = {});
std::string report_latex(const std::vector<RunRecord>& runs, const TableOptions& o = {});  // booktabs
std::string report_csv(const std::vector<RunRecord>& runs, const TableOptions& o = {});

}  // namespace twla
