// quantizers/ternary.cpp: see ternary.h. Each grid works on rows X [oc * G, group_size] (a view of
// W [oc, ic]; row r, group g is row r*G + g) and returns per-row (alpha, mu) and codes.
#include "quantizers/ternary.h"

#include "core/error.h"
#include "quantizers/rtn.h"

namespace twla {

namespace {
struct Rows {
  Tensor X;  // [oc * G, gs] fp32
  int64_t oc, ic, gs;
};
Rows as_rows(const Tensor& W, int64_t group_size, const char* who) {
  TWLA_CHECK(W.dim() == 2, who, " expects a weight [oc, ic], got ", describe(W));
  Rows r;
  r.oc = W.size(0);
  r.ic = W.size(1);
  r.gs = resolve_group_size(r.ic, group_size, "quantizer.group_size");
  r.X = W.to(at::kFloat).contiguous().reshape({-1, r.gs});
  return r;
}

// Packs per-row results back to [oc, ic] / [oc, G]. t, alpha, mu are fp32 over rows of X.
TernaryQuant finish(const Rows& r, const Tensor& t, const Tensor& alpha, const Tensor& mu,
                    double side_bits) {
  const int64_t G = r.ic / r.gs;
  TernaryQuant q;
  q.group_size = r.gs;
  q.dequant = (mu + alpha * t).reshape({r.oc, r.ic});  // the "ternary" layout's formula, same order
  q.codes = t.to(at::kChar).reshape({r.oc, r.ic});
  q.alpha = alpha.reshape({r.oc, G});
  q.mu = mu.reshape({r.oc, G});
  q.bits_per_weight = storage_bits_per_weight(/*code_bits=*/2, side_bits, r.gs);
  return q;
}

Tensor sign_above(const Tensor& x, const Tensor& thr) {  // +1 if x > thr, -1 if x < -thr, else 0
  return (x > thr).to(at::kFloat) - (x < thr.neg()).to(at::kFloat);
}
}  // namespace

TernaryQuant ternary_absmean(const Tensor& W, int64_t group_size) {
  Rows r = as_rows(W, group_size, "ternary-absmean");
  Tensor alpha = r.X.abs().mean(1, /*keepdim=*/true).clamp_min(1e-5);  // [R, 1]
  Tensor t = at::round(r.X / alpha).clamp_(-1.0, 1.0);
  return finish(r, t, alpha, at::zeros_like(alpha), /*side_bits=*/kFpSideBits);  // mu = 0: free
}

TernaryQuant ternary_threshold(const Tensor& W, int64_t group_size) {
  Rows r = as_rows(W, group_size, "ternary-threshold");
  Tensor mu = r.X.mean(1, /*keepdim=*/true);                   // [R, 1]
  Tensor Wc = r.X - mu;
  Tensor delta = Wc.abs().mean(1, /*keepdim=*/true) * 0.75;
  Tensor t = sign_above(Wc, delta);                             // strict comparisons
  Tensor alpha = (t * Wc).sum(1, true) / (t.abs().sum(1, true) + 1e-8);
  return finish(r, t, alpha, mu, /*side_bits=*/2 * kFpSideBits);
}

TernaryQuant ternary_trits(const Tensor& W, int64_t group_size) {
  Rows r = as_rows(W, group_size, "ternary-trits");
  Tensor alpha = std::get<0>(r.X.abs().max(1, /*keepdim=*/true));  // = GPTQ's sym xmax
  alpha = at::where(alpha == 0, at::ones_like(alpha), alpha);      // all-zero group: [-1, 1]
  Tensor t = sign_above(r.X, alpha / 2);
  return finish(r, t, alpha, at::zeros_like(alpha), /*side_bits=*/kFpSideBits);
}

PackedWeight pack_ternary(const TernaryQuant& q) {
  PackedWeight p;
  p.format = "ternary";
  p.shape = q.codes.sizes().vec();
  p.parts["codes"] = q.codes;
  p.parts["alpha"] = q.alpha;
  p.parts["mu"] = q.mu;
  p.attrs["group_size"] = q.group_size;
  p.bits_per_weight = q.bits_per_weight;
  return p;
}

}  // namespace twla
