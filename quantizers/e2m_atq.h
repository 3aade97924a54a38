// quantizers/e2m_atq.h: E2M-ATQ, TWLA's ternary weight quantizer for one linear layer: per
// 128-column block, 4 disjoint groups (2 salient order-2, 2 non-salient order-1) with per-row
// mu/alphas fitted once from the block's weights (Stage 1 Euclidean, Stage 2 output metric S),
// then GPTQ error feedback column by column and to later blocks.
// Not here: the fits (e2m_atq_fit.h), the mask search (e2m_atq_masks.h), H/S accumulation
// (hessian.h), the plugin shell (registry.cpp).
// Source: TWLA, arXiv 2606.13054; reference quantize/tra_gptq.py:fasterquant;
// ALGORITHMS.md §2.3, REFERENCE_NOTES.md §1 and §6.
#pragma once
#include <string>
#include <vector>

#include "core/types.h"
#include "quantizers/e2m_atq_masks.h"

namespace twla {

struct E2mAtqConfig {
  double percdamp = 0.1;        // the reference pipeline's value (its signature default 0.01 is unused)
  int blocksize = 128;
  int max_salient = 64;
  bool salient_search = true;
  bool split_salient = true;
  bool order2 = true;
  bool stage2 = true;
  bool feedback = true;
  int stage1_iters = 15;
  int stage2_iters = 15;
  bool compat_reference = false;
  template <class V> void visit(V& v) {
    v("percdamp", percdamp, "damping added to diag H, fraction of mean(diag H)");
    v("blocksize", blocksize, "columns per block (masks, fits and S are per block)");
    v("max_salient", max_salient, "salient-column search tries 1..max_salient-1 columns");
    v("salient_search", salient_search, "search salient columns; false: no salient groups");
    v("split_salient", split_salient, "split the salient columns into two groups by magnitude");
    v("order2", order2, "salient groups use order-2 (two trit planes); false: order 1");
    v("stage2", stage2, "refit mu/alphas under the output metric S (frozen codes)");
    v("feedback", feedback, "GPTQ error feedback; false: plain per-block fits (RTN; the "
                            "reference's RTN branch also skips stage 2: add stage2: false)");
    v("stage1_iters", stage1_iters, "Euclidean alternation iterations");
    v("stage2_iters", stage2_iters, "output-metric refit iterations");
    v("compat_reference", compat_reference,
      "reproduce reference defects: all-zero output without feedback, error on blocks < max_salient");
  }
};

// Throws Error naming `path`.field and a fix when a field is out of range.
void validate(const E2mAtqConfig& cfg, const std::string& path);

// Per-block intermediates (the golden vectors' block<k>.* tensors): the mask search's trace
// (target, col_score, ranked columns, error curves, choices) plus the block's input and fits.
struct E2mBlockTrace : e2m::MaskSearchTrace {
  int64_t col_begin = 0, col_end = 0;
  Tensor W_in;                          // [oc, w] block weights entering the block
  std::vector<Tensor> masks;            // bool [oc, w], reference order
  std::vector<int> orders;
  std::vector<Tensor> qparts;           // [oc, w] fit of each mask (0 outside it)
};

struct E2mAtqOutput {
  Tensor Q;                 // [oc, ic] fp32 = dequantize(packed)
  PackedWeight packed;      // format "e2m"
  double error = 0;         // sum (w - q)^2 / U_jj^2 / 2 over the feedback loop (0 without it)
  double damp = 0;
  std::vector<int64_t> dead;
  Tensor Hinv;              // [ic, ic] upper chol(H^-1), only with keep_trace
  std::vector<E2mBlockTrace> trace;   // only with keep_trace
};

// W: [oc, ic]; H: [ic, ic] (2/N) sum x x^T; S_blocks: per block of cfg.blocksize columns [w, w]
// (LayerStats::S_blocks). layer names the layer in errors.
E2mAtqOutput e2m_atq_quantize(const Tensor& W, const Tensor& H, const std::vector<Tensor>& S_blocks,
                              const E2mAtqConfig& cfg, const std::string& layer = "layer",
                              bool keep_trace = false);

// Same, from the calibration inputs of the layer: X_seqs[j] = [T, ic] of sequence j.
E2mAtqOutput e2m_atq_quantize_from_inputs(const Tensor& W, const Tensor& H,
                                          const std::vector<Tensor>& X_seqs,
                                          const E2mAtqConfig& cfg,
                                          const std::string& layer = "layer",
                                          bool keep_trace = false);

// The "e2m" packed layout (dequantized by core/packed.cpp):
//   group  uint8 [oc, ic]: group id inside the element's block
//   t0, t1 int8 [oc, ic]: trit planes (t1 = 0 in order-1 groups)
//   mu, alpha0, alpha1 fp32 [oc, n_blocks, G]
//   attrs block_size, groups (G)
//   W[r, c] = (mu + alpha0 * t0) + alpha1 * t1 with the params of (r, block(c), group[r, c]),
//   block(c) = c / block_size; or, where attr g_idx = 1, block(c) = g_idx[c] from an int32 part
//   g_idx [ic] (GPTQ-ternary with act-order and dynamic groups: n_blocks = GPTQ's groups).
// Storage bits (honest): ceil(log2 G) group bits + 1.6 per trit plane entry (5 trits per byte;
// t1 only where the group is order 2) + 16 bits per stored fp16 param per row and block.
double e2m_bits_per_weight(int64_t oc, int64_t ic, int64_t block_size,
                           const std::vector<int>& orders, double order2_fraction);

}  // namespace twla
