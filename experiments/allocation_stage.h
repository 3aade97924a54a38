// experiments/allocation_stage.h: the "allocation" stage of a run, between weights and eval:
// what a measuring allocator gets from the run (the FP model with the rotation applied on the
// fly, the quantized model, ops factories over QuantLinearOps, the run's data settings; the
// allocator never sees the rotation itself), and how its result lands in the run record.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "allocators/allocator.h"
#include "core/tokenizer.h"
#include "experiments/descriptor.h"
#include "results/run_record.h"
#include "rotations/rotation.h"

namespace twla {

// fp_model: created in it on first use (from model_dir); free it after allocate(). say: run log.
AllocationContext allocation_context(const Descriptor& d, const Model& model, const Tokenizer& tok,
                                     const Rotation& rot, std::unique_ptr<Model>& fp_model,
                                     const std::string& model_dir,
                                     std::function<void(const std::string&)> say);

// Bits per block (series act_bits), clip per linear (series act_clip in block_linear_names
// order, -1 = the default; layers' extra act_clip), the report's series/metrics/timings; notes go
// to `say`.
void record_allocation(const Allocation& a, const AllocationReport& r, RunRecord& rec,
                       const std::function<void(const std::string&)>& say);

}  // namespace twla
