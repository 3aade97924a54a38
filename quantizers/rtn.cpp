// quantizers/rtn.cpp: see rtn.h. Groups are handled by viewing W [oc, ic] as rows
// [oc * G, group_size] (row-major, so row r, group g is row r*G + g), which is exactly the
// reference's W.reshape(-1, group_size) and GPTQ's per-slice find_params.
#include "quantizers/rtn.h"

#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/strings.h"
#include "quantizers/act_quant.h"

namespace twla {

RtnRule parse_rtn_rule(const std::string& s, const std::string& field) {
  if (s == "gptq") return RtnRule::gptq;
  if (s == "twla") return RtnRule::twla;
  TWLA_FAIL(field, "='", s, "' is not a grid rule; use 'gptq' (min/max with 0, IST-DASLab) or ",
            "'twla' (plain min/max with scale clamp, TWLA's UniformAffineQuantizer)",
            did_you_mean(s, {"gptq", "twla"}));
}

int64_t resolve_group_size(int64_t ic, int64_t group_size, const std::string& what) {
  if (group_size == -1) return ic;
  TWLA_CHECK(group_size > 0, what, "=", group_size, " is not a group size; use a positive ",
             "divisor of ic=", ic, " or -1 (per row)");
  TWLA_CHECK(ic % group_size == 0, what, "=", group_size, " does not divide ic=", ic,
             "; use a divisor or -1 (per row)");
  return group_size;
}

double storage_bits_per_weight(double code_bits, double side_bits, int64_t group_size) {
  TWLA_ASSERT(group_size > 0);
  return code_bits + side_bits / double(group_size);
}

double relative_error(const Tensor& W, const Tensor& W_hat) {
  double num = (W.to(at::kDouble) - W_hat.to(at::kDouble)).norm().item<double>();
  double den = W.to(at::kDouble).norm().item<double>();
  if (den == 0) return num == 0 ? 0.0 : std::numeric_limits<double>::infinity();
  return num / den;
}

namespace {
// find_params' range of each row of x [R, k]: 0 is always inside; sym mirrors it; an all-zero row
// gets [-1, 1]. Returns {xmin, xmax} [R].
std::pair<Tensor, Tensor> gptq_range(const Tensor& x, bool symmetric) {
  Tensor zeros = at::zeros({x.size(0)}, x.options());
  Tensor xmin = at::minimum(std::get<0>(x.min(1)), zeros);
  Tensor xmax = at::maximum(std::get<0>(x.max(1)), zeros);
  if (symmetric) {
    xmax = at::maximum(xmin.abs(), xmax);
    xmin = at::where(xmin < 0, xmax.neg(), xmin);
  }
  Tensor dead = (xmin == 0).logical_and(xmax == 0);
  xmin = at::where(dead, at::full_like(xmin, -1.0), xmin);
  xmax = at::where(dead, at::full_like(xmax, 1.0), xmax);
  return {xmin, xmax};
}
double maxq_of(int bits) { return double((int64_t(1) << bits) - 1); }
}  // namespace

UniformGrid gptq_find_params(const Tensor& x_in, int bits, bool symmetric, double mse_norm) {
  TWLA_ASSERT(x_in.dim() == 2, "gptq_find_params wants rows [R, k], got ", describe(x_in));
  TWLA_ASSERT(bits >= 1 && bits <= 16);
  Tensor x = x_in.to(at::kFloat);
  const double maxq = maxq_of(bits);
  auto [xmin, xmax] = gptq_range(x, symmetric);
  UniformGrid g;
  g.scale = (xmax - xmin) / maxq;  // [R]
  g.zero = symmetric ? at::full_like(g.scale, (maxq + 1) / 2) : at::round(xmin.neg() / g.scale);
  if (mse_norm > 0) {
    // Quantizer(mse=True): grid 100, maxshrink 0.8 -> shrink p = 1 - i/100 for i < 80; the error
    // is sum |x_hat - x|^norm per row; strictly better rows take the shrunk grid.
    Tensor best = at::full_like(g.scale, std::numeric_limits<float>::infinity());
    for (int i = 0; i < 80; ++i) {
      const double p = 1 - i / 100.0;
      Tensor xmin1 = xmin * p, xmax1 = xmax * p;
      UniformGrid c;
      c.scale = ((xmax1 - xmin1) / maxq).unsqueeze(1);
      c.zero = symmetric ? g.zero.unsqueeze(1) : at::round(xmin1.neg().unsqueeze(1) / c.scale);
      Tensor err = (gptq_quantize(x, c, bits) - x).abs_().pow_(mse_norm).sum(1);
      Tensor better = err < best;
      best = at::where(better, err, best);
      g.scale = at::where(better, c.scale.squeeze(1), g.scale);
      g.zero = at::where(better, c.zero.squeeze(1), g.zero);
    }
  }
  g.scale = g.scale.reshape({-1, 1});
  g.zero = g.zero.reshape({-1, 1});
  return g;
}

Tensor gptq_codes(const Tensor& x, const UniformGrid& g, int bits) {
  return at::clamp(at::round(x / g.scale) + g.zero, 0.0, maxq_of(bits));
}

Tensor gptq_quantize(const Tensor& x, const UniformGrid& g, int bits) {
  return g.scale * (gptq_codes(x, g, bits) - g.zero);
}

namespace {
Tensor rows_view(const Tensor& W, int64_t gs) { return W.reshape({-1, gs}); }  // [oc*G, gs]
}  // namespace

UniformQuant rtn_uniform(const Tensor& W_in, const RtnSpec& spec) {
  TWLA_CHECK(W_in.dim() == 2, "rtn expects a weight [oc, ic], got ", describe(W_in));
  TWLA_CHECK(spec.bits >= 2 && spec.bits <= 8, "quantizer.bits=", spec.bits,
             " is outside 2..8; use a ternary quantizer for 1.58 bits");
  Tensor W = W_in.to(at::kFloat).contiguous();
  const int64_t oc = W.size(0), ic = W.size(1);
  UniformQuant q;
  q.bits = spec.bits;
  q.group_size = resolve_group_size(ic, spec.group_size, "quantizer.group_size");
  const int64_t G = ic / q.group_size;
  Tensor X = rows_view(W, q.group_size);
  Tensor codes;
  double zero_bits = 0;
  if (spec.rule == RtnRule::gptq) {
    UniformGrid g = gptq_find_params(X, spec.bits, spec.symmetric, spec.mse_norm);
    codes = gptq_codes(X, g, spec.bits);
    q.dequant = g.scale * (codes - g.zero);
    q.scale = g.scale;
    q.zero = g.zero;
    zero_bits = spec.symmetric ? 0 : spec.bits;  // 0 is in the range: zero in [0, 2^n - 1]
  } else {
    AffineSpec a;
    a.bits = spec.bits;
    a.clip = 0;
    a.symmetric = spec.symmetric;
    a.mse_norm = spec.mse_norm;
    a.compat_reference = spec.compat_reference;
    AffineParams p = affine_params(X, a);
    codes = affine_codes(X, p, a);
    q.dequant = (codes - p.zero) * p.scale;
    q.scale = p.scale;
    q.zero = p.zero;
    zero_bits = spec.symmetric ? 0 : kFpSideBits;  // zero may lie outside the code range
  }
  q.codes = codes.to(at::kByte).reshape({oc, ic});
  q.dequant = q.dequant.reshape({oc, ic});
  q.scale = q.scale.reshape({oc, G});
  q.zero = q.zero.reshape({oc, G});
  q.bits_per_weight = storage_bits_per_weight(spec.bits, kFpSideBits + zero_bits, q.group_size);
  return q;
}

PackedWeight pack_uniform(const UniformQuant& q) {
  PackedWeight p;
  p.format = "uniform";
  p.shape = q.codes.sizes().vec();
  p.parts["codes"] = q.codes;
  p.parts["scale"] = q.scale;
  p.parts["zero"] = q.zero;
  p.attrs["group_size"] = q.group_size;
  p.attrs["bits"] = q.bits;
  p.bits_per_weight = q.bits_per_weight;
  return p;
}

}  // namespace twla
