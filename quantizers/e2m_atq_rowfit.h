// quantizers/e2m_atq_rowfit.h: fused one-row kernels for E2M-ATQ: the greedy ternary fit of a
// masked row (the mask search's thousands of candidate fits per block), and Stage 1 / Stage 2 of
// the group fits, all without tensors or allocations, run in parallel over rows.
// Not here: the tensor-level fits (e2m_atq_fit.h, the slow reference these are tested against
// bit for bit), the search itself (e2m_atq_masks.cpp).
// Source: REFERENCE_NOTES.md §1.5 (high_order_residual); the summation order of ATen 1.13's CPU
// sum/nansum kernel (aten/src/ATen/native/cpu/SumKernel.cpp, AVX2 build).
#pragma once
#include <cstdint>

namespace twla::e2m::row {

// sum of x[0..n) in the order ATen's CPU sum/nansum kernel adds a contiguous row: 8-lane
// vectors in 4 interleaved accumulators (cascaded every 16 steps), the leftover vectors into
// the first, the tail scalars, then the lanes in order; rows shorter than 8 use 4 scalar
// accumulators. Reproducing that order keeps every fp32 decision identical to the tensor code.
float aten_sum(const float* x, int64_t n);

// high_order_residual(x, mask, order) of one row of w entries: out[j] = fit, 0 outside the
// mask. scratch: at least 4 * w floats.
void greedy_fit(const float* x, const bool* mask, int64_t w, int order, float* out, float* scratch);

// Stage 1 and Stage 2 of one row (e2m_atq_rowalt.cpp), bit-identical to alternating_fit() and
// relocate() of e2m_atq_fit.h on that row.
struct RowParams {
  float mu = 0, a0 = 0, a1 = 0;
};
// m[j] = mask ? 1 : 0; W[j] = x[j] * m[j]; count = number of masked entries.
void mask_rows(const float* x, const bool* mask, int64_t w, float* m, float* W, int64_t& count);
// Writes t0, t1 (times the mask; t1 = 0 for order 1) and value. scratch: at least 5 * w floats.
RowParams alternating_fit(const float* x, const bool* mask, int64_t w, int order, int iters,
                          float* t0, float* t1, float* value, float* scratch);
// Codes frozen; p updated in place, value rewritten. MS = row of (mask S^T), T0S = row of
// ((t0 * mask) S), T1S = row of ((t1 * mask) S) (order 2 only), all from one GEMM over the block.
// scratch: at least 6 * w floats.
void relocate(const float* x, const bool* mask, int64_t w, int order, int iters, const float* MS,
              const float* T0S, const float* T1S, const float* t0, const float* t1, RowParams& p,
              float* value, float* scratch);

}  // namespace twla::e2m::row
