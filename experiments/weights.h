// experiments/weights.h: the "weights" stage of a run: rotation fused into every linear, then
// the weight quantizer, block by block (one block resident). Data-free quantizers see each
// weight alone; calibrated ones (GPTQ, E2M-ATQ) go through the sequential calibration flow.
#pragma once
#include <string>
#include <vector>

#include "core/model.h"
#include "core/tokenizer.h"
#include "experiments/descriptor.h"
#include "quantizers/quantizer.h"
#include "results/run_record.h"
#include "rotations/rotation.h"

namespace twla {

struct WeightsContext {
  const Descriptor& desc;
  const Tokenizer& tok;
  const Quantizer& quant;
  Rotation& rot;
  bool quiet = false;
  // The rotation's state is already set (from the stage cache, load_cached_rotation): no prepare().
  bool rotation_prepared = false;
};

// The results row of one quantized linear.
LayerRecord layer_record(const std::string& name, int block, const LayerReport& r);

// Sets every quantized (and/or rotated) linear on `model` via set_weight; returns per-layer stats.
std::vector<LayerRecord> quantize_weights(Model& model, const WeightsContext& ctx,
                                          const std::string& run_dir);

}  // namespace twla
