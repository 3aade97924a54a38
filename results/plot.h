// results/plot.h: PNG plots of runs through gnuplot (gnuplot-iostream), written atomically
// (temp + rename). Built only with TWLA_WITH_GNUPLOT; otherwise every plot throws an Error
// saying so. Not here: tables (report.h). For figures in other tools, start from report_csv.
#pragma once
#include <string>
#include <vector>

#include "results/run_record.h"

namespace twla {

bool plots_built();     // compiled with gnuplot-iostream
bool gnuplot_found();   // the gnuplot binary ($GNUPLOT_IOSTREAM_CMD or `gnuplot`) is on PATH

// One curve per value of labels[group_label_key] ("" = one curve): metric against
// labels[x_label_key], numeric x when every label parses as a number, else categories.
// `metric` may be "avg7". Perplexity gets a log y axis. E.g. ("abits", "ppl/wikitext2", "method").
void plot_metric_vs(const std::vector<RunRecord>& runs, const std::string& x_label_key,
                    const std::string& metric, const std::string& group_label_key,
                    const std::string& png);
// A per-layer stat against layer index: weight_err, output_err (unmeasured layers skipped),
// bits_per_weight, seconds, or a key of LayerRecord::extra.
void plot_layer_stat(const RunRecord& r, const std::string& stat, const std::string& png);
// A named series against its index (e.g. "act_bits" per block).
void plot_series(const RunRecord& r, const std::string& series, const std::string& png);

// Activation bits per decoder block (series act_bits), one curve per run (e.g. ila-amp vs uniform).
void plot_bits_per_block(const std::vector<RunRecord>& runs, const std::string& png);
// ILA-AMP's delta table (series ila_amp/delta/b<bits>) as a heat map: block x candidate width ->
// NLL increase with that one block changed.
void plot_delta_heatmap(const RunRecord& r, const std::string& png);

}  // namespace twla
