// allocators/lac_model.h: the LAC clip search over a whole model at one bit width, as the
// reference's calibrate_per_layer_lac runs it (REFERENCE_NOTES.md 5): every linear at `bits` with
// the default clip, the calibration segments pushed block by block through the quantized model
// (so each layer's inputs come from quantized upstream layers), and at every linear the grid
// search of lac.h on its rotated input. Shared by the uniform and ila-amp allocators.
#pragma once
#include <map>
#include <string>

#include "allocators/allocator.h"
#include "allocators/lac.h"

namespace twla {

struct LacConfig {
  double grid_start = 0.5;
  double grid_step = 0.005;
  int grid_size = 100;
  int samples = 8;
  template <class V> void visit(V& v) {
    v("grid_start", grid_start, "first clip ratio of the LAC grid");
    v("grid_step", grid_step, "grid step (numpy.arange semantics)");
    v("grid_size", grid_size, "grid values (0.5 + 0.005 * 0..99 excludes 1.0, as the reference)");
    v("samples", samples, "calibration segments (of calibration.seqlen tokens) the search sees");
  }
};

// Error naming `path` (e.g. "activations.allocator.lac") for a grid that is empty, outside (0, 1]
// or a sample count below 1.
void check_lac_config(const LacConfig& c, const std::string& path);

// Per linear name of every block: the choice at `bits`. ctx must have q_model, q_ops,
// rotate_input and tok.
std::map<std::string, LacChoice> lac_search_model(const AllocationContext& ctx, int bits,
                                                  const LacConfig& cfg, double default_clip);

// LAC at each distinct quantized width of alloc.act_bits: fills alloc.clip for the linears of the
// blocks at that width; report (if given) gets series lac/A<w>/clip and lac/A<w>/mse per linear of
// every block (block_linear_names order).
void apply_lac_clips(const AllocationContext& ctx, const LacConfig& cfg, double default_clip,
                     Allocation& alloc, AllocationReport* report);

}  // namespace twla
