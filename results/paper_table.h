// results/paper_table.h: runs in the layout of the paper's main table (TWLA, arXiv 2606.13054,
// Table 1): one row per (model, method, W bits, A bits), grouped by model in the paper's order;
// columns Wiki2 and C4 perplexity (then any other perplexity a run has, e.g. tinystories), the
// zero-shot accuracies (x100) present, and their average
// (Avg, when a row has all seven of avg7_tasks()). Markdown and LaTeX (booktabs).
// Not here: the generic per-run tables (report.h), plots (paper_plots.h).
#pragma once
#include <string>
#include <vector>

#include "results/run_record.h"

namespace twla {

// The paper's name for a run's method, from its labels: FP16, RTN, GPTQ, Hadamard+GPTQ, TWLA
// (E2M-ATQ with KOTMS), E2M-ATQ (+ rotation), else "<quantizer>+<rotation>"; then
// " w/o a, b" for quantizer switches the run set to false (ablations: "E2M-ATQ w/o stage2").
std::string paper_method(const RunRecord& r);
// "16", "4", "4 (mixed)" when the allocator is not uniform.
std::string paper_abits(const RunRecord& r);

struct PaperTable {
  std::vector<std::string> header;              // Model, Method, #W, #A, Wiki2, C4, tasks..., Avg
  std::vector<std::vector<std::string>> rows;   // "" = no value
  std::vector<size_t> group_starts;             // row index where each model's block starts
};
// digits: decimals of perplexities and accuracies.
PaperTable paper_table(const std::vector<RunRecord>& runs, int digits = 2);
std::string paper_markdown(const std::vector<RunRecord>& runs, int digits = 2);
std::string paper_latex(const std::vector<RunRecord>& runs, int digits = 2);

}  // namespace twla
