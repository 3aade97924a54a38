// experiments/rotation_stats.cpp: see rotation_stats.h.
#include "experiments/rotation_stats.h"

#include "core/model_config.h"
#include "core/progress.h"
#include "rotations/weight_stats.h"

namespace twla {

namespace {
std::vector<double> as_doubles(const std::vector<int64_t>& v) { return {v.begin(), v.end()}; }

// Histogram, kurtosis, beyond-range fraction and ternary fractions of one side (before/after).
void side_stats(const Tensor& W, double unit, const std::string& side, const std::string& linear,
                LayerRecord& l, RunRecord& rec) {
  rec.series["rotation_hist/" + side + "/" + linear] =
      as_doubles(weight_histogram(W, unit, kWeightHistBins, kWeightHistRange));
  l.extra["rot/w_kurtosis_" + side] = weight_kurtosis(W);
  l.extra["rot/w_beyond_5rms_" + side] = fraction_beyond(W, unit, kWeightHistRange);
  const TernaryFractions t = ternary_fractions(W);
  l.extra["rot/w_ternary_neg_" + side] = t.neg;
  l.extra["rot/w_ternary_zero_" + side] = t.zero;
  l.extra["rot/w_ternary_pos_" + side] = t.pos;
}
}  // namespace

void record_rotation_stats(const Model& model, const Rotation& rot, RunRecord& rec,
                           const std::function<void(const std::string&)>& say) {
  if (rot.is_identity()) return;
  if (rec.layers.empty())
    for (int b = 0; b < model.n_blocks(); ++b)
      for (const auto& name : block_linear_names(b)) rec.layers.push_back(LayerRecord{name, b});
  Progress prog("rotation stats", int64_t(rec.layers.size()), "linears");
  for (auto& l : rec.layers) {
    for (const auto& [k, v] : rot.stats(l.name)) l.extra["rot/" + k] = v;
    auto curve = rot.loss_curve(l.name);
    if (!curve.empty()) rec.series["rotation_loss/" + l.name] = curve;
    const Tensor W = model.source().load("model." + l.name + ".weight");   // [oc, ic] as loaded
    const double unit = weight_rms(W);
    l.extra["rot/w_rms"] = unit;
    if (unit > 0) {   // an all-zero linear has no scale to draw in; its stats say so by rms 0
      side_stats(W, unit, "before", l.name, l, rec);
      side_stats(rot.weight(l.name, W), unit, "after", l.name, l, rec);
    }
    prog.tick();
  }
  prog.finish();
  rec.series["rotation_hist/edges"] = weight_histogram_edges(kWeightHistBins, kWeightHistRange);
  for (const auto& note : rot.notes()) say("rotation: " + note);
}

}  // namespace twla
