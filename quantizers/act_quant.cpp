// quantizers/act_quant.cpp: see act_quant.h. The op order of the reference is kept on purpose
// (e.g. clip applied to xmin and xmax separately, scale clamped before zp is formed), so that both
// modes are bit-exact against the golden vectors with libtorch's float32 kernels.
#include "quantizers/act_quant.h"

#include <limits>

#include "core/error.h"

namespace twla {

namespace {
constexpr double kClipMin = 1e-5;  // CLIPMIN of the reference: the smallest scale
constexpr double kClipMax = 1e4;   // CLIPMAX: the largest scale, and the compat zero-point clamp

void check_spec(const AffineSpec& s) {
  TWLA_CHECK(s.bits >= 2 && s.bits < 16, "activation/affine bits=", s.bits,
             " is outside 2..15 (16 means no quantization); use 2..8 for a quantized layer");
  TWLA_CHECK(s.clip >= 0, "clip ratio=", s.clip, " must be >= 0 (0 = no clip, 0.9 = default)");
  TWLA_CHECK(s.mse_norm >= 0, "mse norm=", s.mse_norm, " must be >= 0 (0 = min/max grid)");
}
double qmax_of(const AffineSpec& s) { return double((int64_t(1) << s.bits) - 1); }
double half_levels(const AffineSpec& s) { return double((int64_t(1) << (s.bits - 1)) - 1); }

// (scale, zero) from a (possibly shrunk) range; zero is rounded here, and clamped in compat mode.
AffineParams grid_from_range(const Tensor& xmin, const Tensor& xmax, const AffineSpec& s) {
  AffineParams p;
  if (s.symmetric) {
    Tensor abs_max = at::max(xmax.abs(), xmin.abs());
    p.scale = (abs_max / half_levels(s)).clamp(kClipMin, kClipMax);
    p.zero = at::ones_like(p.scale) * half_levels(s);
  } else {
    p.scale = ((xmax - xmin) / qmax_of(s)).clamp(kClipMin, kClipMax);
    p.zero = xmin.neg() / p.scale;
    if (s.compat_reference) p.zero = p.zero.clamp(-kClipMax, kClipMax);
    p.zero = p.zero.round();
  }
  return p;
}

// round(x / scale), the integer part before the zero point; fp32.
Tensor scaled_round(const Tensor& x, const AffineParams& p, const AffineSpec& s) {
  Tensor r = x.div(p.scale).round_();
  // The reference casts to fp16 "to avoid overflow"; it loses integers above 2048 (compat only).
  if (s.compat_reference) r = r.to(at::kHalf).to(at::kFloat);
  return r;
}

Tensor as_float(const Tensor& x) { return x.scalar_type() == at::kFloat ? x : x.to(at::kFloat); }
}  // namespace

AffineParams affine_params_from_range(const Tensor& xmin, const Tensor& xmax, const AffineSpec& spec) {
  check_spec(spec);
  return grid_from_range(xmin, xmax, spec);
}

Tensor affine_codes(const Tensor& x, const AffineParams& p, const AffineSpec& spec) {
  check_spec(spec);
  return scaled_round(as_float(x), p, spec).add_(p.zero).clamp_(0.0, qmax_of(spec));
}

Tensor affine_fake_quant(const Tensor& x, const AffineParams& p, const AffineSpec& spec) {
  check_spec(spec);
  // (clamp(r + zp, 0, qmax) - zp) * scale, with the zero point folded into the clamp bounds: two
  // passes fewer, and bit-identical, because r and zp are integer-valued floats whose sum is exact
  // wherever it lands inside [0, qmax] (Sterbenz), and the bounds -zp, qmax - zp round exactly as
  // the subtraction after the clamp does. The golden tests run through this path.
  Tensor r = scaled_round(as_float(x), p, spec);
  return at::clamp_(r, p.zero.neg(), p.zero.neg().add_(qmax_of(spec))).mul_(p.scale);
}

AffineParams affine_params(const Tensor& x_in, const AffineSpec& spec) {
  check_spec(spec);
  TWLA_ASSERT(x_in.dim() >= 1 && x_in.size(-1) > 0);
  Tensor x = as_float(x_in);
  Tensor xmin = x.amin(-1, /*keepdim=*/true);  // [..., 1]
  Tensor xmax = x.amax(-1, /*keepdim=*/true);
  if (spec.clip != 0) {  // the reference's truthiness test: lac = 0 / None disables the clip
    xmax = xmax * spec.clip;
    xmin = xmin * spec.clip;
  }
  if (spec.mse_norm <= 0) return grid_from_range(xmin, xmax, spec);

  // Shrink search: p_i = numpy.linspace(1, 0.4, 100) computed as numpy does (i*step + start, the
  // last one set to stop), and each candidate kept only if strictly better (first minimum wins).
  constexpr int kGrid = 100;
  const double start = 1.0, stop = 0.4, step = (stop - start) / (kGrid - 1);
  AffineParams best{at::ones_like(xmax), at::zeros_like(xmax)};
  Tensor best_err = at::full_like(xmax, std::numeric_limits<float>::infinity());
  for (int i = 0; i < kGrid; ++i) {
    const double shrink = i == kGrid - 1 ? stop : double(i) * step + start;
    AffineParams c = grid_from_range(xmin * shrink, xmax * shrink, spec);
    Tensor err = (affine_fake_quant(x, c, spec) - x).abs().pow(spec.mse_norm).mean(-1, true);
    Tensor better = err < best_err;
    best_err = at::where(better, err, best_err);
    best.scale = at::where(better, c.scale, best.scale);
    best.zero = at::where(better, c.zero, best.zero);
  }
  return best;  // zero is already rounded (and clamped in compat mode): rounding again is a no-op
}

Tensor act_fake_quant(const Tensor& x, const AffineSpec& spec, AffineParams* params) {
  if (spec.bits >= 16) {
    if (params) *params = AffineParams{};
    return x;
  }
  AffineParams p = affine_params(x, spec);
  Tensor y = affine_fake_quant(x, p, spec);
  if (params) *params = p;
  return y.scalar_type() == x.scalar_type() ? y : y.to(x.scalar_type());
}

}  // namespace twla
