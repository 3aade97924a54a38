// experiments/rotation_stats.h: what the run's rotation did, into its record (issue 5): per
// linear, the rotation's own stats (layers' extra "rot/...": KOTMS losses, Hadamard sizes) and
// loss curve (series rotation_loss/<linear>), and the weight distribution before/after W -> W Q:
// series rotation_hist/before/<linear> and rotation_hist/after/<linear> (counts over
// kWeightHistBins bins of [-5, 5] in units of the unrotated layer's RMS, ends also holding what
// lies beyond), series rotation_hist/edges (the bin edges in those units), and extras
// rot/w_rms, rot/w_kurtosis_{before,after}, rot/w_beyond_5rms_{before,after} and
// rot/w_ternary_{neg,zero,pos}_{before,after} (absmean ternarization levels).
// Not here: the statistics themselves (rotations/weight_stats.h), drawing (results/plot.h).
#pragma once
#include <functional>
#include <string>

#include "core/model.h"
#include "results/run_record.h"
#include "rotations/rotation.h"

namespace twla {

// The weights come from model.source() (the checkpoint as loaded, before any override), so the
// stats are the same whether the run's weights came from the stage cache or not. Adds one
// LayerRecord per linear when rec.layers is empty (no quantizer stats). Nothing for an identity
// rotation. say: run-log lines (the rotation's notes).
void record_rotation_stats(const Model& model, const Rotation& rot, RunRecord& rec,
                           const std::function<void(const std::string&)>& say);

}  // namespace twla
