// quantizers/e2m_atq_fit.h: E2M-ATQ's per-row ternary fits of a masked block: the greedy
// residual fit the mask search uses, Stage 1 (Euclidean alternation, order 1 and 2) and Stage 2
// (refit of mu and the alphas under the output metric S with frozen codes).
// Not here: choosing the masks (e2m_atq_masks.h), the layer driver (e2m_atq.h).
// Source: TWLA reference quantize/E2M_ATQ.py; REFERENCE_NOTES.md §1.5, ALGORITHMS.md §2.3.
// Every fit is row-wise: x, mask [rows, cols]; rows are independent, so the functions are
// vectorized over rows and results do not depend on the thread count.
#pragma once
#include "core/tensor.h"

namespace twla::e2m {

// w_hat = (mu + a0 t0 + a1 t1) * mask per row; order-1 fits have a1 = 0, t1 = 0.
struct TernaryFit {
  int order = 1;
  Tensor mu, a0, a1;   // [rows] fp32
  Tensor t0, t1;       // [rows, cols] fp32 in {-1, 0, 1}, 0 outside the mask
  Tensor value;        // [rows, cols] fp32 w_hat, 0 outside the mask
};

// mean over the masked entries of each row; an all-false row gives 0. x, mask: [rows, cols].
Tensor masked_row_mean(const Tensor& x, const Tensor& mask);

// Greedy order-k residual fit (`high_order_residual`): k times an order-1 fit of the residual.
// Returns w_hat [rows, cols]. mask: bool [rows, cols].
Tensor greedy_fit(const Tensor& x, const Tensor& mask, int order);

// Stage 1. Order 1: mu += mean(w - w_hat), then delta, t, alpha from w - mu, `iters` times.
// Order 2: mu correction, coordinate least squares for a0 then a1, nearest of the 9 levels
// (first minimum wins), `iters` times.
TernaryFit alternating_fit(const Tensor& x, const Tensor& mask, int order, int iters);

// Stage 2 in place: codes frozen, `iters` rounds of mu then the alphas (a0 before a1), each the
// exact least-squares minimiser of sum_r (w - w_hat)_r S (w - w_hat)_r^T on the support.
// S: [cols, cols]. Computed as products with S (no per-row [cols, cols] temporaries).
void relocate(TernaryFit& fit, const Tensor& x, const Tensor& mask, const Tensor& S, int iters);

// Stage 1, then Stage 2 when S is defined (`Ternarization.quantize`).
TernaryFit ternarize(const Tensor& x, const Tensor& mask, int order, const Tensor& S,
                     int stage1_iters, int stage2_iters);

// ternarize() through the one-row kernels of e2m_atq_rowfit.h, in parallel over rows, with the
// products with S as one GEMM each over all rows: bit-identical to ternarize() on the whole x,
// the same on any thread count, and free of per-op overhead.
TernaryFit ternarize_rows(const Tensor& x, const Tensor& mask, int order, const Tensor& S,
                          int stage1_iters, int stage2_iters);

}  // namespace twla::e2m
