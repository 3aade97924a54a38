// quantizers/e2m_atq_rowfit.h: fused one-row kernels for E2M-ATQ's mask search: the greedy
// ternary fit of a masked row without tensors or allocations, so the search can run its
// thousands of candidate fits per block in parallel over rows.
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

}  // namespace twla::e2m::row
