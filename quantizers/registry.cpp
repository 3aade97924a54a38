// quantizers/registry.cpp: the one table of weight quantizers.
#include "quantizers/quantizer.h"

namespace twla {

namespace {
struct FpConfig {
  template <class V> void visit(V&) {}
};
class FpQuantizer : public PluginShell<Quantizer, FpConfig> {
 public:
  using PluginShell::PluginShell;
  bool needs_calibration() const override { return false; }
  std::string nominal_bits() const override { return "16"; }
  QuantResult quantize(const LinearRef& l, const LayerStats*) const override {
    QuantResult r;
    r.dequant = l.W;
    r.packed.format = "dense";
    r.packed.shape = l.W.sizes().vec();
    r.packed.parts["W"] = l.W;
    r.packed.bits_per_weight = 32;
    r.report.bits_per_weight = 32;
    return r;
  }
};
}  // namespace

const Registry<Quantizer>& quantizers() {
  static const Registry<Quantizer> r{
      "quantizer",
      {plugin_entry<Quantizer, FpQuantizer>("fp", "no weight quantization (full precision)")}};
  return r;
}

}  // namespace twla
