// tests/experiments/quantize_all.h: a quantized model for the kernel-backend and packed-model
// tests without calibration: every linear quantized data-free with ternary-absmean.
#pragma once
#include <memory>

#include "core/model.h"
#include "core/model_config.h"
#include "quantizers/quantizer.h"

namespace twla::test {

inline void quantize_all_absmean(Model& m) {
  auto q = quantizers().make(PluginSpec{"ternary-absmean", YAML::Node(YAML::NodeType::Map)}, "quantizer");
  for (int b = 0; b < m.n_blocks(); ++b) {
    Block blk = m.load_block(b);
    for (const auto& name : block_linear_names(b)) {
      QuantResult r = q->quantize(LinearRef{name, b, blk.W.at(name)}, nullptr);
      m.set_weight(name, std::make_shared<PackedWeight>(std::move(r.packed)));
    }
  }
}

}  // namespace twla::test
