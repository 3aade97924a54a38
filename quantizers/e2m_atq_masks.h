// quantizers/e2m_atq_masks.h: E2M-ATQ's grouping of one column block into disjoint masks:
// saliency, the salient-column count search, and the quantile-threshold splits of the salient
// (order 2, by MSE) and non-salient (order 1, by tr(E S E^T)) parts.
// Not here: the fits (e2m_atq_fit.h), the layer driver and packing (e2m_atq.h).
// Source: TWLA reference quantize/autosearch.py, structure_arb.py, mask.py (from ARB-LLM);
// REFERENCE_NOTES.md §1.4 including its quantile details; ALGORITHMS.md §2.3.
#pragma once
#include <vector>

#include "core/tensor.h"

namespace twla::e2m {

// The 81 split fractions: torch.linspace(0.10, 0.90, 81) in fp32 as the reference's CPU kernel
// produced them (15-21 of them differ by an ulp from any closed formula; REFERENCE_NOTES.md §1.4).
extern const float kQuantileQ[81];

// np.quantile(data, q, method="linear") of numpy <= 1.26 for fp32 data and fp32 q, returning
// fp64: virtual index (n-1)*q in fp32, gamma and the lerp in fp64, fp32 b-a, the "b - diff*(1-g)"
// form for g >= 0.5, the maximum at or past the last index. Empty data gives zeros (numpy raises).
std::vector<double> numpy_quantiles(std::vector<float> data, const float* q, size_t nq);

struct MaskSearchOptions {
  int max_salient = 64;         // the reference's up_lim: tries 1..max_salient-1 salient columns
  bool salient_search = true;   // false: no salient columns, only the two order-1 groups
  bool split_salient = true;    // the reference's order2_group: two salient groups instead of one
  int salient_order = 2;        // fit order of the salient groups (1 for the "order-2 off" ablation)
  int iters = 15;               // alternating fit of the whole salient region (split-1 error)
  bool compat_reference = false;  // a block narrower than max_salient is an error, as it crashes there
};

// The intermediates the golden vectors record (README "E2M-ATQ full-case tensors").
struct MaskSearchTrace {
  Tensor target;                     // [oc, w] W^2 / diag(U)^2
  Tensor col_score;                  // [w]
  std::vector<int64_t> ranked_cols;  // columns by col_score, descending (first max_salient)
  std::vector<double> err_salient;   // MSE for 1..max_salient-1 salient columns
  int n_salient = 0;
  std::vector<double> split2_candidates, err_split2;
  int split2_index = -1;
  std::vector<double> split1_candidates, err_split1;
  int split1_index = -1;
};

// Disjoint bool masks [oc, w] covering the block, in the reference's order
// [salient hi, salient lo, non-salient hi, non-salient lo] (salient ones merged when
// !split_salient), with their fit orders.
struct BlockMasks {
  std::vector<Tensor> masks;
  std::vector<int> orders;
};

// W_blk: [oc, w] current block weights; U_blk: [w, w] the block of chol(H^-1) (upper);
// S: [w, w] the block's output metric. trace may be null.
BlockMasks search_masks(const Tensor& W_blk, const Tensor& U_blk, const Tensor& S,
                        const MaskSearchOptions& opt, MaskSearchTrace* trace);

}  // namespace twla::e2m
