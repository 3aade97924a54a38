// quantizers/ternary.h: data-free ternary (W1.58) grids, per row or per group of columns:
// BitNet b1.58 absmean, the threshold ternary order-1 fit, and GPTQ's symmetric ternary ("trits")
// grid that GPTQ's ternary mode rounds to. W_hat = mu[:, g] + alpha[:, g] * t, t in {-1, 0, 1}.
// Not here: masked/alternating/order-2 fits and the output-metric refit (e2m_atq*), error
// feedback (gptq*).
// Source: ALGORITHMS.md §2.1, §2.3 (order-1 fit); REFERENCE_NOTES.md §1.5 (strict threshold, the
// 1e-8 in alpha); BitNet b1.58 (Ma et al. 2024) for absmean; IST-DASLab/gptq quant.py (trits).
#pragma once
#include "core/tensor.h"
#include "core/types.h"

namespace twla {

struct TernaryQuant {
  Tensor codes;    // [oc, ic] int8 in {-1, 0, 1}
  Tensor alpha;    // [oc, G] fp32
  Tensor mu;       // [oc, G] fp32 (all zero for absmean and trits)
  Tensor dequant;  // [oc, ic] fp32, exactly what dequantize(pack_ternary(..)) rebuilds
  int64_t group_size = 0;  // resolved: ic when per row
  double bits_per_weight = 0;
};

// BitNet b1.58 absmean: alpha = max(mean|w|, 1e-5) per (row, group), t = clamp(round(w/alpha),
// -1, 1) (half-to-even), mu = 0. The 1e-5 floor is BitNet's; it keeps an all-zero group at 0.
TernaryQuant ternary_absmean(const Tensor& W, int64_t group_size = -1);

// Threshold ternary, the order-1 fit of ALGORITHMS §2.3 on every entry of a (row, group):
// mu = mean(w), delta = 0.75 * mean|w - mu|, t = sign(w - mu) where |w - mu| > delta (strict),
// alpha = sum t (w - mu) / (sum |t| + 1e-8).
TernaryQuant ternary_threshold(const Tensor& W, int64_t group_size = -1);

// GPTQ's ternary grid (configure(trits=True, sym=True)): alpha = max|w| per (row, group) (an
// all-zero group gets 1), t = [w > alpha/2] - [w < -alpha/2], mu = 0.
TernaryQuant ternary_trits(const Tensor& W, int64_t group_size = -1);

// format "ternary" (core/types.h): codes int8, alpha/mu fp32 [oc, G], attr group_size.
PackedWeight pack_ternary(const TernaryQuant& q);

}  // namespace twla
