// quantizers/act_quant.h: per-row dynamic asymmetric (or symmetric) n-bit fake-quant over the last
// dim: TWLA's activation quantizer, and the same rule on weight rows (rtn.h, rule "twla").
// Not here: which layer gets which bits/clip (allocators/), the online rotation (rotations/).
// Source: TWLA, arXiv 2606.13054; ALGORITHMS.md §3; REFERENCE_NOTES.md §2, §6.10 (the reference's
// UniformAffineQuantizer, per_token dynamic method, golden case act_quant_per_token).
//
// For each row r of x [..., d] (a token, or a weight row/group):
//   xmax = c * max(x_r), xmin = c * min(x_r)     (plain amin/amax: 0 is NOT forced into the range)
//   scale = clamp((xmax - xmin) / (2^n - 1), 1e-5, 1e4)
//   zp = round(-xmin / scale)                    (half-to-even)
//   q = clamp(round(x / scale) + zp, 0, 2^n - 1), x_hat = (q - zp) * scale
// Symmetric: scale = clamp(max(|xmax|,|xmin|) / (2^(n-1) - 1)), zp = 2^(n-1) - 1, same clamp range.
// compat_reference reproduces the reference's two defects bit for bit: round(x/scale) is cast to
// float16 before zp is added (integers above 2048 lose precision) and zp is clamped to +-1e4 before
// rounding. Both only trigger on tokens far from 0 relative to their range (near-constant tokens,
// large offsets); everywhere else the two modes give identical bits.
#pragma once
#include "core/tensor.h"

namespace twla {

struct AffineSpec {
  int bits = 4;                   // 2..16; 16 (or more) = identity, as the reference disables it
  double clip = 0.9;              // lac: multiplies xmin AND xmax (shrink toward 0); 0 = no clip
  bool symmetric = false;
  double mse_norm = 0;            // > 0: per-row search over 100 shrink factors linspace(1, 0.4),
                                  // error mean|x_hat - x|^mse_norm (the reference's `mse` option)
  bool compat_reference = false;  // reproduce the fp16 cast and the +-1e4 zero-point clamp
};

// Per-row grid. Both [..., 1] fp32 (keepdim over the last dim); zero is integer-valued.
struct AffineParams {
  Tensor scale;
  Tensor zero;
};

// The grid of every row of x [..., d] (min/max, or the mse search when spec.mse_norm > 0).
// Requires spec.bits < 16.
AffineParams affine_params(const Tensor& x, const AffineSpec& spec);

// The grid of a given (already clipped) range per row: xmin, xmax [..., 1] fp32 (any shapes that
// broadcast, e.g. [P, N, 1] for P clip candidates); the op order of affine_params.
AffineParams affine_params_from_range(const Tensor& xmin, const Tensor& xmax, const AffineSpec& spec);

// Integer codes q in [0, 2^n - 1] (fp32, integer-valued), same shape as x.
Tensor affine_codes(const Tensor& x, const AffineParams& p, const AffineSpec& spec);

// x_hat for a given grid: (codes - zero) * scale, fp32, same shape as x.
Tensor affine_fake_quant(const Tensor& x, const AffineParams& p, const AffineSpec& spec);

// The activation fake-quant of ALGORITHMS §3: params from x, then x_hat. Returns x unchanged when
// spec.bits >= 16. When params is non-null it receives the grid (undefined tensors at 16 bits).
// Vectorized ATen, O(numel); x of any float dtype, computed in fp32, returned in x's dtype.
Tensor act_fake_quant(const Tensor& x, const AffineSpec& spec, AffineParams* params = nullptr);

}  // namespace twla
