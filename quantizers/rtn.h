// quantizers/rtn.h: uniform n-bit round-to-nearest of a weight, per row or per group of columns,
// with two grid rules, plus the honest bits-per-weight rule shared by every data-free quantizer.
// Not here: ternary grids (ternary.h: absmean, threshold, GPTQ's ternary "trits" grid), error
// feedback (gptq.h), the plugin shells (registry.cpp).
// Source: ALGORITHMS.md §2.1; the rule "gptq" is IST-DASLab/gptq quant.py Quantizer.find_params +
// quantize (golden rtn_4bit_perchannel_asym_32x256, rtn_3bit_g128_asym_32x256); the rule "twla"
// is TWLA's UniformAffineQuantizer applied to weight rows (golden rtn_uniform_affine_32x256).
#pragma once
#include <string>

#include "core/tensor.h"
#include "core/types.h"

namespace twla {

enum class RtnRule {
  gptq,  // range [min(x,0), max(x,0)]; an all-zero group gets [-1, 1]; scale unclamped;
         // sym: zero = 2^(n-1), grid [-2^(n-1), 2^(n-1)-1] * scale
  twla,  // range [min x, max x] (0 not forced in); scale clamped to [1e-5, 1e4]; optional mse
         // shrink search; sym: zero = 2^(n-1)-1 (act_quant.h)
};
RtnRule parse_rtn_rule(const std::string& s, const std::string& field);  // "gptq" | "twla"

struct RtnSpec {
  int bits = 4;                   // 2..8
  bool symmetric = false;
  int64_t group_size = -1;        // columns per (scale, zero); -1 = whole row
  RtnRule rule = RtnRule::gptq;
  double mse_norm = 0;            // > 0: search a shrunk range per (row, group). gptq: the
                                  // Quantizer's mse=True search with norm=mse_norm (GPTQ uses
                                  // 2.4); twla: the reference's `mse` search (act_quant.h)
  bool compat_reference = false;  // rule twla only: the reference's fp16 cast / zp clamp
};

// One uniform-quantized weight. W_hat = scale[:, g] * (codes - zero[:, g]), g = column / group.
struct UniformQuant {
  Tensor codes;    // [oc, ic] uint8 in [0, 2^bits - 1]
  Tensor scale;    // [oc, G] fp32
  Tensor zero;     // [oc, G] fp32, integer-valued (may be -0.0 or lie outside the code range)
  Tensor dequant;  // [oc, ic] fp32, exactly what dequantize(pack_uniform(..)) rebuilds
  int bits = 4;
  int64_t group_size = 0;  // resolved: ic when per row
  double bits_per_weight = 0;
};

// Resolves group_size (-1 -> ic) and checks it divides ic. `what` names the field/layer.
int64_t resolve_group_size(int64_t ic, int64_t group_size, const std::string& what);

// GPTQ's grid for each row of x [R, k] (Quantizer.find_params, weight=True, perchannel):
// scale, zero [R, 1]. This is also what GPTQ calls per column group during error feedback.
// mse_norm > 0 turns on its shrink search (mse=True, norm=mse_norm, grid 100, maxshrink 0.8).
struct UniformGrid {
  Tensor scale;  // [R, 1] fp32
  Tensor zero;   // [R, 1] fp32
};
UniformGrid gptq_find_params(const Tensor& x, int bits, bool symmetric, double mse_norm = 0);
// clamp(round(x / scale) + zero, 0, 2^bits - 1), fp32 integer-valued; x [R, k], grid [R, 1].
Tensor gptq_codes(const Tensor& x, const UniformGrid& g, int bits);
// scale * (codes - zero): GPTQ's quantize(x, scale, zero, maxq).
Tensor gptq_quantize(const Tensor& x, const UniformGrid& g, int bits);

// Whole-weight RTN: W [oc, ic] -> codes, grid [oc, G] and dequant, per spec.
UniformQuant rtn_uniform(const Tensor& W, const RtnSpec& spec);
// format "uniform" (core/types.h): codes uint8, scale/zero fp32 [oc, G], attr group_size.
PackedWeight pack_uniform(const UniformQuant& q);

// Honest storage bits per weight, the rule every quantizer here reports:
//   code_bits                 bits of one stored code: n for n-bit uniform codes; 2 for ternary
//                             codes (packed 2 bits each; base-3 packing to 1.6 is not what the
//                             kernels use, so 1.58 is only the nominal label)
// + side_bits / group_size    per (row, group) side data amortized over its weights: each fp
//                             scale/alpha/mu/offset counts 16 bits (stored fp16 when deployed;
//                             fp32 in PackedWeight for exact fake-quant); an integer zero point
//                             that is guaranteed inside the code range counts `n` bits; a value
//                             that is fixed (symmetric zero, absmean's mu = 0) counts 0.
double storage_bits_per_weight(double code_bits, double side_bits, int64_t group_size);
constexpr double kFpSideBits = 16;

// ||W - W_hat||_F / ||W||_F (0 when both are zero).
double relative_error(const Tensor& W, const Tensor& W_hat);

}  // namespace twla
