// results/paper_plots.h: the paper's figures from a folder of runs, as PNGs through plot.h:
// perplexity against activation bits (one curve per method, paper_method()), per-layer error
// of each quantized run, and the activation bits per block of mixed-precision runs (ILA-AMP).
// Each kind is its own function so a `twla plot <kind>` command can call them one by one.
// Not here: the tables (paper_table.h), rendering (plot.cpp).
#pragma once
#include <string>
#include <vector>

#include "results/run_record.h"

namespace twla {

// ppl/<dataset> against labels["abits"], one curve per paper_method().
void plot_ppl_vs_abits(const std::vector<RunRecord>& runs, const std::string& dataset,
                       const std::string& png);
// Per-layer relative output error (weight error when the quantizer measured none).
void plot_layer_error(const RunRecord& run, const std::string& png);
// Activation bits per decoder block ("act_bits" series).
void plot_block_bits(const RunRecord& run, const std::string& png);

// Every plot that applies to `runs`, into `dir` (created): ppl_vs_abits_<dataset>.png,
// layer_error_<run>.png, block_bits_<run>.png (mixed-precision runs only). Returns the files.
std::vector<std::string> paper_plots(const std::vector<RunRecord>& runs, const std::string& dir);

}  // namespace twla
