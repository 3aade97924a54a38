// allocators/allocator.h: the activation bit allocator interface (ALGORITHMS.md section 5):
// per decoder block activation bits, per linear clip ratios. Plugins (registry.cpp): uniform,
// ila-amp (ila_amp.cpp). The algorithms are pure functions beside them: the DP (ila_amp_dp.h),
// the NLL measurements (ila_amp_measure.h), the LAC clip search (lac.h).
// Not here: how a linear runs with an allocation (experiments/quant_ops.h; the run hands the
// allocator ops factories through AllocationContext, so allocators never see a rotation).
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/model.h"
#include "core/registry.h"
#include "core/tokenizer.h"
#include "core/types.h"

namespace twla {

class IlaAmpFarm;   // allocators/ila_amp_farm.h

// What a measuring allocator (ila-amp, or any LAC clip search) needs from the run.
struct AllocationContext {
  // The full-precision model (no weight quantization); with fp_ops it runs rotated, as the
  // reference measures ILA-AMP. Created on first use.
  std::function<const Model&()> fp_model;
  const Model* q_model = nullptr;   // the run's quantized model (LAC inputs come from it)
  // Linear ops that run an allocation: rotation.input -> act fake-quant -> x W_rot^T, on
  // fp_model (rotating its weights) or on q_model (whose weights are rotated already).
  std::function<std::unique_ptr<LinearOps>(const Allocation&)> fp_ops, q_ops;
  // rotation.input of one linear: the tensor the activation fake-quant sees.
  std::function<Tensor(const std::string& linear, const Tensor& x)> rotate_input;
  const Tokenizer* tok = nullptr;
  std::string calib_dataset = "c4";   // the run's calibration set (LAC inputs, held-out data)
  int calib_seqlen = 2048;
  int calib_seed = 0;
  int batch = 4;                      // windows per forward
  int threads = 1;                    // workers for independent evaluations
  bool compat_reference = false;
  // Where ila-amp's evaluations are farmed out to and their shard results kept (the run dir;
  // experiments/allocation_farm.h); null = all measured in this process.
  const IlaAmpFarm* ila_amp_farm = nullptr;
  std::function<void(const std::string&)> log = [](const std::string&) {};
};

struct AllocationRequest {
  int n_blocks = 0;
  double avg_bits = 16;      // b_avg from the descriptor (16 = activations in full precision)
  double default_clip = 1.0; // the clip ratio c of ALGORITHMS.md 3 unless an allocator picks one
  const AllocationContext* ctx = nullptr;  // null: data-free (an allocator that needs it says so)
};

// What an allocator measured, for the run's results file and log.
struct AllocationReport {
  std::map<std::string, std::vector<double>> series;   // -> RunRecord::series ("ila_amp/...")
  std::map<std::string, double> metrics;               // -> RunRecord::metrics ("alloc/...")
  std::map<std::string, double> timings;               // -> RunRecord::timings ("allocate/...")
  std::vector<std::string> notes;                      // run log lines (warnings first)
};

class Allocator : public Plugin {
 public:
  // The settings that need the model's size (budget vs blocks), checked before any work starts;
  // allocate() checks them again. Error naming the field and a fix.
  virtual void check(int n_blocks, double avg_bits) const {}
  virtual Allocation allocate(const AllocationRequest& req, AllocationReport* report) const = 0;
};

const Registry<Allocator>& allocators();

// The whole-number bit width of every block for allocators that give all blocks the same width;
// Error naming activations.bits otherwise.
int uniform_bits(double avg_bits);

}  // namespace twla
