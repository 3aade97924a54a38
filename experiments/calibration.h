// experiments/calibration.h: the sequential calibration flow of GPTQ/E2M-ATQ (ALGORITHMS.md 1).
// Block by block, group by group ({q,k,v} -> {o} -> {gate,up} -> {down}): run the block over all
// calibration segments with the earlier groups already quantized, accumulate H (and S per
// 128-column block) from the (rotated) inputs of the group's linears, quantize the group; then run
// the quantized block to make the next block's inputs. One block is resident at a time; the
// calibration hidden states live in host memory.
// Each finished block is checkpointed atomically (ckpt/block_<b>.safetensors: packed weights +
// layer stats); a killed run resumes at the first missing block by replaying the finished blocks'
// forward, which gives bit-identical results. Finished blocks stay on the model only as views of
// their checkpoint files (file-backed pages, not anonymous memory): only the block being
// quantized is held in memory of its own. A rotation must be prepared (Rotation::prepare) for
// every linear beforehand; it is fused here into each block as the block is loaded.
// Peak memory, buffer by buffer: docs/PERFORMANCE.md "Peak RAM of the calibration flow".
#pragma once
#include <string>
#include <vector>

#include "experiments/weights.h"

namespace twla {

std::vector<LayerRecord> calibrate_and_quantize(Model& model, const WeightsContext& ctx,
                                                const std::string& run_dir);

// Bytes of `model`'s packed weights (set_weight overrides) held in memory of their own rather
// than as views of a file: 0 after calibrate_and_quantize. For tests and memory accounting.
int64_t owned_packed_bytes(const Model& model);

}  // namespace twla
