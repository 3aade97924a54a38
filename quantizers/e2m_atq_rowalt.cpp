// quantizers/e2m_atq_rowalt.cpp: one-row kernels for E2M-ATQ's Stage 1 (alternating fit) and
// Stage 2 (refit under S with frozen codes); see e2m_atq_rowfit.h. Each statement mirrors one
// tensor op of e2m_atq_fit.cpp (same fp32 operations, same order, masked-out entries as +-0, sums
// in ATen's order via aten_sum), so the results are bit-identical to the tensor code;
// tests/quantizers/test_e2m_atq.cpp checks that. Elementwise loops carry no cross-iteration
// dependence and the build has no FMA contraction (baseline x86-64), so vectorizing them is exact.
#include <cmath>
#include <cstring>

#include "quantizers/e2m_atq_rowfit.h"
#include "quantizers/row_clones.h"

// v8 helpers are internal (inlined); their ABI note does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

// Row kernels: TWLA_CLONES (quantizers/row_clones.h), helpers force-inlined into each clone.

namespace twla::e2m::row {

namespace {
constexpr float kDelta = 0.75f;    // TWN threshold factor
constexpr float kAlphaEps = 1e-8f;
constexpr float kStage2Eps = 1e-10f;

// masked_row_mean: nansum over the mask (tmp holds 0 elsewhere) / count; an empty row gives 0.
TWLA_INLINE float masked_mean(const float* tmp, int64_t w, int64_t count) {
  const float m = aten_sum(tmp, w) / static_cast<float>(count);
  return std::isnan(m) ? 0.f : m;
}

// One order-1 fit of r (0 outside the mask) at the given mu: wc, t (times m), alpha.
// Mirrors order1_step: wc = r - mu*m; delta = 0.75*absmean(wc); t = threshold; alpha.
TWLA_INLINE float order1_step(const float* r, const float* m, const bool* mask, int64_t w, int64_t count,
                  float mu, float* wc, float* t, float* tmp) {
  for (int64_t j = 0; j < w; ++j) wc[j] = r[j] - mu * m[j];
  for (int64_t j = 0; j < w; ++j) tmp[j] = mask[j] ? std::fabs(wc[j]) : 0.f;
  const float delta = masked_mean(tmp, w, count) * kDelta;
  for (int64_t j = 0; j < w; ++j) {
    float v = wc[j] > delta ? 1.f : 0.f;
    v = wc[j] < -delta ? -1.f : v;
    t[j] = v * m[j];
  }
  for (int64_t j = 0; j < w; ++j) tmp[j] = (t[j] * wc[j]) * m[j];
  const float num = aten_sum(tmp, w);
  for (int64_t j = 0; j < w; ++j) tmp[j] = std::fabs(t[j]) * m[j];
  const float den = aten_sum(tmp, w) + kAlphaEps;
  return num / den;
}

// 4 fp32 lanes: SSE2's native width, so compares and selects stay single instructions.
typedef float v4 __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));
TWLA_INLINE v4 load4(const float* p) {
  v4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
TWLA_INLINE void store4(float* p, v4 v) { std::memcpy(p, &v, sizeof v); }
TWLA_INLINE v4 abs4(v4 v) { return (v4)((v4i)v & 0x7fffffff); }
TWLA_INLINE v4 select4(v4i c, v4 a, v4 b) { return (v4)((c & (v4i)a) | (~c & (v4i)b)); }

// nearest_of_nine: the first of the 9 levels (index 3(s0+1)+(s1+1)) nearest to wc, times m. A
// level replaces the best so far when strictly nearer, or when the best is NaN and it is not
// (torch.argmin); 4 entries at a time, then the scalar tail, the same comparisons.
TWLA_INLINE void nearest_of_nine(const float* wc, const float* m, int64_t w, float A0, float A1, float* t0,
                     float* t1) {
  const float v[9] = {-A0 - A1, -A0, -A0 + A1, -A1, 0.f, A1, A0 - A1, A0, A0 + A1};
  const float s0[9] = {-1, -1, -1, 0, 0, 0, 1, 1, 1}, s1[9] = {-1, 0, 1, -1, 0, 1, -1, 0, 1};
  v4 V[9], S0[9], S1[9];
  for (int i = 0; i < 9; ++i) {
    V[i] = (v4){} + v[i];
    S0[i] = (v4){} + s0[i];
    S1[i] = (v4){} + s1[i];
  }
  int64_t j = 0;
  for (; j + 4 <= w; j += 4) {
    const v4 x = load4(wc + j);
    v4 bd = abs4(x - V[0]), b0 = S0[0], b1 = S1[0];
    for (int i = 1; i < 9; ++i) {
      const v4 d = abs4(x - V[i]);
      const v4i upd = (d < bd) | ((d != d) & (bd == bd));
      bd = select4(upd, d, bd);
      b0 = select4(upd, S0[i], b0);
      b1 = select4(upd, S1[i], b1);
    }
    store4(t0 + j, b0 * load4(m + j));
    store4(t1 + j, b1 * load4(m + j));
  }
  for (; j < w; ++j) {
    const float x = wc[j];
    int best = 0;
    float bd = std::fabs(x - v[0]);
    for (int i = 1; i < 9; ++i) {
      const float d = std::fabs(x - v[i]);
      if (d < bd || (std::isnan(d) && !std::isnan(bd))) {
        bd = d;
        best = i;
      }
    }
    t0[j] = s0[best] * m[j];
    t1[j] = s1[best] * m[j];
  }
}

TWLA_INLINE void value_of(int order, const RowParams& p, const float* t0, const float* t1, const float* m,
              int64_t w, float* out) {
  if (order == 1) {
    for (int64_t j = 0; j < w; ++j) out[j] = (p.a0 * t0[j] + p.mu) * m[j];
  } else {
    for (int64_t j = 0; j < w; ++j) out[j] = ((p.mu + p.a0 * t0[j]) + p.a1 * t1[j]) * m[j];
  }
}
}  // namespace

void mask_rows(const float* x, const bool* mask, int64_t w, float* m, float* W, int64_t& count) {
  count = 0;
  for (int64_t j = 0; j < w; ++j) {
    m[j] = mask[j] ? 1.f : 0.f;
    W[j] = x[j] * m[j];
    count += mask[j];
  }
}

TWLA_CLONES RowParams alternating_fit(const float* x, const bool* mask, int64_t w, int order, int iters,
                          float* t0, float* t1, float* value, float* scratch) {
  float* m = scratch;
  float* W = scratch + w;
  float* wc = scratch + 2 * w;
  float* tmp = scratch + 3 * w;
  float* r1 = scratch + 4 * w;
  int64_t count = 0;
  mask_rows(x, mask, w, m, W, count);
  RowParams p;
  // mu = masked_row_mean(W); order1_step(W, mu) -> t0, a0
  for (int64_t j = 0; j < w; ++j) tmp[j] = mask[j] ? W[j] : 0.f;
  p.mu = masked_mean(tmp, w, count);
  p.a0 = order1_step(W, m, mask, w, count, p.mu, wc, t0, tmp);
  if (order == 1) {
    p.a1 = 0.f;
    for (int64_t j = 0; j < w; ++j) t1[j] = 0.f;
    value_of(1, p, t0, t1, m, w, value);
    for (int it = 0; it < iters; ++it) {
      for (int64_t j = 0; j < w; ++j) tmp[j] = mask[j] ? W[j] - value[j] : 0.f;
      p.mu = p.mu + masked_mean(tmp, w, count);
      p.a0 = order1_step(W, m, mask, w, count, p.mu, wc, t0, tmp);
      value_of(1, p, t0, t1, m, w, value);
    }
    return p;
  }
  // Order 2 init: an order-1 fit of the residual of the first plane.
  for (int64_t j = 0; j < w; ++j) wc[j] = W[j] - p.mu * m[j];
  for (int64_t j = 0; j < w; ++j) r1[j] = wc[j] - (p.a0 * t0[j]) * m[j];
  for (int64_t j = 0; j < w; ++j) tmp[j] = mask[j] ? std::fabs(r1[j]) : 0.f;
  const float delta1 = masked_mean(tmp, w, count) * kDelta;
  for (int64_t j = 0; j < w; ++j) {
    float v = r1[j] > delta1 ? 1.f : 0.f;
    v = r1[j] < -delta1 ? -1.f : v;
    t1[j] = v * m[j];
  }
  for (int64_t j = 0; j < w; ++j) tmp[j] = (t1[j] * r1[j]) * m[j];
  const float num = aten_sum(tmp, w);
  for (int64_t j = 0; j < w; ++j) tmp[j] = std::fabs(t1[j]) * m[j];
  p.a1 = num / (aten_sum(tmp, w) + kAlphaEps);
  value_of(2, p, t0, t1, m, w, value);
  for (int it = 0; it < iters; ++it) {
    for (int64_t j = 0; j < w; ++j) tmp[j] = mask[j] ? W[j] - value[j] : 0.f;
    p.mu = p.mu + masked_mean(tmp, w, count);
    for (int64_t j = 0; j < w; ++j) wc[j] = W[j] - p.mu * m[j];
    for (int64_t j = 0; j < w; ++j) tmp[j] = (t0[j] * t0[j]) * m[j];
    const float den0 = aten_sum(tmp, w) + kAlphaEps;
    for (int64_t j = 0; j < w; ++j) tmp[j] = (t0[j] * (wc[j] - (p.a1 * t1[j]) * m[j])) * m[j];
    p.a0 = aten_sum(tmp, w) / den0;
    for (int64_t j = 0; j < w; ++j) tmp[j] = (t1[j] * t1[j]) * m[j];
    const float den1 = aten_sum(tmp, w) + kAlphaEps;
    for (int64_t j = 0; j < w; ++j) tmp[j] = (t1[j] * (wc[j] - (p.a0 * t0[j]) * m[j])) * m[j];
    p.a1 = aten_sum(tmp, w) / den1;
    nearest_of_nine(wc, m, w, p.a0, p.a1, t0, t1);
    value_of(2, p, t0, t1, m, w, value);
  }
  return p;
}

TWLA_CLONES void relocate(const float* x, const bool* mask, int64_t w, int order, int iters, const float* MS,
              const float* T0S, const float* T1S, const float* t0, const float* t1, RowParams& p,
              float* value, float* scratch) {
  float* m = scratch;
  float* W = scratch + w;
  float* tmp = scratch + 2 * w;
  float* wmu = scratch + 3 * w;
  float* T0m = scratch + 4 * w;
  float* T1m = scratch + 5 * w;
  int64_t count = 0;
  mask_rows(x, mask, w, m, W, count);
  for (int64_t j = 0; j < w; ++j) tmp[j] = m[j] * MS[j];
  const float mu_den = aten_sum(tmp, w) + kStage2Eps;
  for (int64_t j = 0; j < w; ++j) T0m[j] = t0[j] * m[j];
  for (int64_t j = 0; j < w; ++j) tmp[j] = T0S[j] * T0m[j];
  const float den0 = aten_sum(tmp, w) + kStage2Eps;
  if (order == 1) {
    for (int it = 0; it < iters; ++it) {
      for (int64_t j = 0; j < w; ++j) tmp[j] = (W[j] - (p.a0 * t0[j]) * m[j]) * MS[j];
      p.mu = aten_sum(tmp, w) / mu_den;
      for (int64_t j = 0; j < w; ++j) tmp[j] = T0S[j] * (W[j] - p.mu * m[j]);
      p.a0 = aten_sum(tmp, w) / den0;
    }
  } else {
    for (int64_t j = 0; j < w; ++j) T1m[j] = t1[j] * m[j];
    for (int64_t j = 0; j < w; ++j) tmp[j] = T1S[j] * T1m[j];
    const float den1 = aten_sum(tmp, w) + kStage2Eps;
    for (int it = 0; it < iters; ++it) {
      for (int64_t j = 0; j < w; ++j)
        tmp[j] = (W[j] - (p.a0 * t0[j] + p.a1 * t1[j]) * m[j]) * MS[j];
      p.mu = aten_sum(tmp, w) / mu_den;
      for (int64_t j = 0; j < w; ++j) wmu[j] = W[j] - p.mu * m[j];
      for (int64_t j = 0; j < w; ++j) tmp[j] = T0S[j] * (wmu[j] - p.a1 * T1m[j]);
      p.a0 = aten_sum(tmp, w) / den0;
      for (int64_t j = 0; j < w; ++j) tmp[j] = T1S[j] * (wmu[j] - p.a0 * T0m[j]);
      p.a1 = aten_sum(tmp, w) / den1;
    }
  }
  value_of(order, p, t0, t1, m, w, value);
}

}  // namespace twla::e2m::row
