// quantizers/quantizer.h: the weight-quantizer plugin interface. Algorithms live in free
// functions (rtn.h, gptq.h, e2m_atq.h); a plugin only reads its Config and calls them.
#pragma once
#include "core/registry.h"
#include "core/types.h"

namespace twla {

class Quantizer : public Plugin {
 public:
  // True when quantize() needs LayerStats (GPTQ, E2M-ATQ); false for data-free ones (RTN).
  virtual bool needs_calibration() const = 0;
  // stats is null for data-free quantizers. Returns the dequantized weight AND its packed form.
  virtual QuantResult quantize(const LinearRef& layer, const LayerStats* stats) const = 0;
  // Nominal bits for tables ("1.58", "4").
  virtual std::string nominal_bits() const = 0;
};

// The one table of weight quantizers (quantizers/registry.cpp).
const Registry<Quantizer>& quantizers();

}  // namespace twla
