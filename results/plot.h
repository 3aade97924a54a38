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

// One linear's weight histogram before and after the rotation (series rotation_hist/before|after/
// <layer>, x in units of the layer's RMS from rotation_hist/edges), as fractions of its weights.
// `layer` is a linear name as in the run's layer table ("layers.0.mlp.up_proj"; a leading
// "model." is accepted). Errors: a run without rotation histograms; an unknown layer (with a
// suggestion and the first names).
void plot_rotation_hist(const RunRecord& r, const std::string& layer, const std::string& png);
// The rotation's training loss per step (series rotation_loss/<layer>, KOTMS): one curve per
// linear, or only `layer` when it is not empty. Errors as plot_rotation_hist.
void plot_rotation_loss(const RunRecord& r, const std::string& layer, const std::string& png);

}  // namespace twla
