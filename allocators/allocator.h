// allocators/allocator.h: the activation bit allocator interface (ALGORITHMS.md section 5):
// per decoder block activation bits, per linear clip ratios. uniform (here), ila-amp (issue 6).
#pragma once
#include <functional>

#include "core/registry.h"
#include "core/types.h"

namespace twla {

struct AllocationRequest {
  int n_blocks = 0;
  double avg_bits = 16;      // b_avg from the descriptor (16 = activations in full precision)
  double default_clip = 1.0; // the clip ratio c of ALGORITHMS.md 3 unless an allocator picks one
};

class Allocator : public Plugin {
 public:
  virtual Allocation allocate(const AllocationRequest& req) const = 0;
};

const Registry<Allocator>& allocators();

}  // namespace twla
