// quantizers/gptq.h: GPTQ (Frantar et al. 2022) for one linear layer: n-bit (2..8) or ternary
// grid, per-row or per-group (dynamic or static groups), act-order, sym/asym, lazy batch updates.
// Not here: H accumulation (hessian.h), E2M-ATQ (e2m_atq.h), the plugin shell (registry.cpp).
// Source: IST-DASLab/gptq gptq.py:fasterquant and quant.py:Quantizer at 2d65066 (static_groups);
// ALGORITHMS.md §2.2; the golden cases gptq_* (README "GPTQ / RTN n-bit").
#pragma once
#include <string>
#include <vector>

#include "core/types.h"

namespace twla {

struct GptqConfig {
  int bits = 4;
  bool ternary = false;
  int group_size = -1;
  bool act_order = false;
  bool static_groups = false;
  bool sym = false;
  double percdamp = 0.01;
  int blocksize = 128;
  bool hinv_reference = false;
  template <class V> void visit(V& v) {
    v("bits", bits, "weight bits, 2..8 (ignored when ternary)");
    v("ternary", ternary, "grid {min, 0, max} per row/group (GPTQ's trits)");
    v("group_size", group_size, "columns per scale; -1 = whole row");
    v("act_order", act_order, "process columns by decreasing diag(H)");
    v("static_groups", static_groups, "fit group grids before quantization (needs group_size)");
    v("sym", sym, "symmetric grid (zero = 2^(bits-1))");
    v("percdamp", percdamp, "damping added to diag H, fraction of mean(diag H)");
    v("blocksize", blocksize, "columns per lazy-update block");
    v("hinv_reference", hinv_reference, "chol(H^-1) by the reference's cholesky, cholesky_inverse, "
                                        "cholesky (its last bits); false: one Cholesky + one "
                                        "triangular inverse, half the flops");
  }
};

struct GptqOutput {
  Tensor Q;          // [oc, ic] fp32, original column order
  Tensor codes;      // [oc, ic] int64: 0..2^bits-1, or -1/0/+1 for ternary
  Tensor scale;      // [oc, G] fp32 (ternary: the max level)
  Tensor zero;       // [oc, G] fp32 (ternary: the min level)
  Tensor g_idx;      // [ic] int64 group of each original column
  Tensor perm;       // [ic] int64 processing position -> original column
  double error = 0;  // sum (w - q)^2 / U_jj^2 / 2, as fasterquant prints it
  double damp = 0;
  std::vector<int64_t> dead;
  // keep_trace only, in processing order:
  Tensor H_damped, Hinv, W_fed, Losses;
};

// Throws Error naming `path`.field and a fix when a field is out of range.
void validate(const GptqConfig& cfg, const std::string& path);

// W: [oc, ic]; H: [ic, ic] (2/N) sum x x^T (copied). layer names the layer in errors.
GptqOutput gptq_quantize(const Tensor& W, const Tensor& H, const GptqConfig& cfg,
                         const std::string& layer = "layer", bool keep_trace = false);

// The packed form: "uniform" (codes uint8, scale/zero [oc, G]) for n bits, "e2m" with one
// group of two 0/1 planes (mu 0, alpha0 = max, alpha1 = min [oc, G, 1]) for ternary. Act-order
// with dynamic groups has non-contiguous groups: the params stay one per row and group, and
// column c's group is g_idx[c], stored as an int32 part g_idx [ic] with attr g_idx = 1 (see
// core/types.h, quantizers/e2m_atq.h). bits_per_weight counts exactly that: codes, fp16 params
// per row and group, and 32 bits per column for g_idx when it is stored.
PackedWeight gptq_pack(const GptqOutput& out, const GptqConfig& cfg);

}  // namespace twla
