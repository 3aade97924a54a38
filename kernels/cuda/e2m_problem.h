// kernels/cuda/e2m_problem.h: random E2M-ATQ-like weights packed as e2m, for tq2_cuda_check's
// validation and timings (kernels/cuda/e2m_check.cu). Host code only.
#pragma once
#include <cstdint>

#include "kernels/e2m.h"

namespace twla::kernels::cuda::check {

// Random weights packed as e2m. Per 128-column block `salient` distinct salient columns (groups
// 0/1, two trit planes; min(salient, width)), or when salient < 0 a random count in 0..max_random
// (drawn with repetition); the rest in groups 2/3. all_a: one order-2 group over every column
// (groups = 1, GPTQ-ternary's form: n_a = width in every block).
struct E2mProblem {
  int64_t oc, ic;
  E2mBuffer buf;
  E2mView v;
  E2mProblem(int64_t oc, int64_t ic, uint32_t seed, int salient = -1, int max_random = 63, bool all_a = false);
};

}  // namespace twla::kernels::cuda::check
