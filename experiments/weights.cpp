// experiments/weights.cpp: see weights.h.
#include "experiments/weights.h"

#include <memory>

#include "core/progress.h"
#include "experiments/calibration.h"

namespace twla {

LayerRecord layer_record(const std::string& name, int block, const LayerReport& r) {
  LayerRecord l;
  l.name = name;
  l.block = block;
  l.weight_err = r.weight_err;
  l.output_err = r.output_err;
  l.bits_per_weight = r.bits_per_weight;
  l.seconds = r.seconds;
  l.extra = r.extra;
  return l;
}

namespace {
std::shared_ptr<PackedWeight> dense(const Tensor& W) {
  auto p = std::make_shared<PackedWeight>();
  p->format = "dense";
  p->shape = W.sizes().vec();
  p->parts["W"] = W;
  return p;
}
}  // namespace

std::vector<LayerRecord> quantize_weights(Model& model, const WeightsContext& ctx,
                                          const std::string& run_dir) {
  std::vector<LayerRecord> out;
  const bool rotate = !ctx.rot.is_identity();
  const bool quantize = ctx.desc.quantizer.name != "fp";
  if (!rotate && !quantize) return out;
  if (quantize && ctx.quant.needs_calibration()) {
    // Rotation prepared first (every linear, in order); calibration fuses it into each block as
    // it loads it, so it sees rotated weights and (online) rotated inputs without holding a
    // rotated fp32 copy of the whole model.
    if (rotate && !ctx.rotation_prepared) {
      for (int b = 0; b < model.n_blocks(); ++b) {
        Block blk = model.load_block(b);
        for (const auto& name : block_linear_names(b)) ctx.rot.prepare(LinearRef{name, b, blk.W.at(name)});
      }
    }
    return calibrate_and_quantize(model, ctx, run_dir);
  }
  Progress prog("weights", model.n_blocks(), "blocks");
  for (int b = 0; b < model.n_blocks(); ++b) {
    Block blk = model.load_block(b);
    for (const auto& name : block_linear_names(b)) {
      Tensor W = blk.W.at(name);
      if (rotate) {
        if (!ctx.rotation_prepared) ctx.rot.prepare(LinearRef{name, b, W});
        W = ctx.rot.weight(name, W);
      }
      if (!quantize) {
        model.set_weight(name, dense(W));
        continue;
      }
      QuantResult r = ctx.quant.quantize(LinearRef{name, b, W}, nullptr);
      model.set_weight(name, std::make_shared<PackedWeight>(std::move(r.packed)));
      out.push_back(layer_record(name, b, r.report));
    }
    prog.tick();
  }
  return out;
}

}  // namespace twla
