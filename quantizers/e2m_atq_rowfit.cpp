// quantizers/e2m_atq_rowfit.cpp: see e2m_atq_rowfit.h. Each line mirrors one tensor op of
// e2m_atq_fit.cpp's greedy_fit (same fp32 operations in the same order, zeros included), so the
// results are bit-identical to it; tests/quantizers/test_e2m_atq.cpp checks that.
#include "quantizers/e2m_atq_rowfit.h"
#include "quantizers/row_clones.h"

// v8 helpers are internal (inlined); their ABI note does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"

// Row kernels: TWLA_CLONES (quantizers/row_clones.h), helpers force-inlined into each clone.

namespace twla::e2m::row {

namespace {
// 8 fp32 lanes (GCC vector extension: plain IEEE ops per lane, two SSE registers without AVX).
typedef float v8 __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
TWLA_INLINE v8 load8(const float* p) {
  v8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
TWLA_INLINE void store8(float* p, v8 v) { std::memcpy(p, &v, sizeof v); }
TWLA_INLINE v8 abs8(v8 v) { return (v8)((v8i)v & 0x7fffffff); }
}  // namespace

namespace {
// ATen's multi_row_sum: `nrows` interleaved accumulators of L lanes over `size` steps of
// nrows * L values, cascaded into 4 levels every 2^level_power steps.
template <int L>
TWLA_INLINE void multi_row_sum(const float* x, int64_t size, float (&out)[4][L]) {
  constexpr int kLevels = 4;
  int64_t ceil_log2 = 1;
  if (size > 2) {
    ceil_log2 = 0;
    for (uint64_t v = static_cast<uint64_t>(size) - 1; v; v >>= 1) ++ceil_log2;
  }
  const int64_t level_power = std::max<int64_t>(4, ceil_log2 / kLevels);
  const int64_t level_step = int64_t{1} << level_power;
  const int64_t level_mask = level_step - 1;
  float acc[kLevels][4][L] = {};
  int64_t i = 0;
  auto add_step = [&](int64_t step) {
    const float* p = x + step * 4 * L;
    for (int k = 0; k < 4; ++k)
      for (int l = 0; l < L; ++l) acc[0][k][l] += p[k * L + l];
  };
  while (i + level_step <= size) {
    for (int64_t j = 0; j < level_step; ++j, ++i) add_step(i);
    for (int j = 1; j < kLevels; ++j) {
      for (int k = 0; k < 4; ++k)
        for (int l = 0; l < L; ++l) {
          acc[j][k][l] += acc[j - 1][k][l];
          acc[j - 1][k][l] = 0.f;
        }
      if ((i & (level_mask << (j * level_power))) != 0) break;
    }
  }
  for (; i < size; ++i) add_step(i);
  for (int j = 1; j < kLevels; ++j)
    for (int k = 0; k < 4; ++k)
      for (int l = 0; l < L; ++l) acc[0][k][l] += acc[j][k][l];
  for (int k = 0; k < 4; ++k)
    for (int l = 0; l < L; ++l) out[k][l] = acc[0][k][l];
}

// ATen's row_sum (4-way ILP) over n / L vectors, then the scalar tail and the lanes.
template <int L>
TWLA_INLINE float vector_row_sum(const float* x, int64_t n) {
  const int64_t vec_size = n / L, size_ilp = vec_size / 4;
  float part[4][L];
  multi_row_sum<L>(x, size_ilp, part);
  for (int64_t i = size_ilp * 4; i < vec_size; ++i)
    for (int l = 0; l < L; ++l) part[0][l] += x[i * L + l];
  for (int k = 1; k < 4; ++k)
    for (int l = 0; l < L; ++l) part[0][l] += part[k][l];
  float final_acc = 0.f;
  for (int64_t t = vec_size * L; t < n; ++t) final_acc += x[t];
  for (int l = 0; l < L; ++l) final_acc += part[0][l];
  return final_acc;
}

// nanmean over the masked entries: tmp holds the entry where masked and 0 elsewhere (what
// nansum reads); an all-false row gives 0/0 = NaN, which the reference maps to 0.
TWLA_INLINE float masked_mean(const float* tmp, int64_t w, int64_t count) {
  const float m = aten_sum(tmp, w) / static_cast<float>(count);
  return std::isnan(m) ? 0.f : m;
}
}  // namespace

TWLA_CLONES float aten_sum(const float* x, int64_t n) {
  TWLA_ASSERT(n >= 0);
  if (n >= 8 && n < 512) {
    // vector_row_sum<8> below 64 vectors, where no cascade level fills (the levels then add
    // only +0, a no-op for accumulators that start at +0): vector c goes to accumulator c % 4,
    // those past the last full group of 4 to the first; then the accumulators, the scalar tail
    // and the lanes, in that order.
    const int64_t n8 = n / 8, main = (n8 / 4) * 4;
    v8 acc[4] = {};
    for (int64_t c = 0; c < main; ++c) acc[c & 3] += load8(x + 8 * c);
    for (int64_t c = main; c < n8; ++c) acc[0] += load8(x + 8 * c);
    v8 a = acc[0];
    a += acc[1];
    a += acc[2];
    a += acc[3];
    float f = 0.f;
    for (int64_t t = n8 * 8; t < n; ++t) f += x[t];
    for (int l = 0; l < 8; ++l) f += a[l];
    return 0.f + f;
  }
  // The output starts at 0 and the kernel adds its result to it.
  return 0.f + (n >= 8 ? vector_row_sum<8>(x, n) : vector_row_sum<1>(x, n));
}

namespace {
// Generic widths: each step materialises the row a sum kernel would read.
TWLA_INLINE void greedy_fit_generic(const float* x, const bool* mask, int64_t w, int order, float* out,
                        float* scratch) {
  float* W = scratch;
  float* wc = scratch + w;
  float* t = scratch + 2 * w;
  float* tmp = scratch + 3 * w;   // the row a sum kernel reads
  int64_t count = 0;
  for (int64_t j = 0; j < w; ++j) {
    W[j] = x[j] * (mask[j] ? 1.f : 0.f);
    out[j] = 0.f;
    count += mask[j];
  }
  for (int k = 0; k < order; ++k) {
    for (int64_t j = 0; j < w; ++j) wc[j] = W[j] - out[j];                  // r = W - sum
    for (int64_t j = 0; j < w; ++j) tmp[j] = mask[j] ? wc[j] : 0.f;
    const float mu = masked_mean(tmp, w, count);
    for (int64_t j = 0; j < w; ++j) wc[j] = wc[j] - mu * (mask[j] ? 1.f : 0.f);
    for (int64_t j = 0; j < w; ++j) tmp[j] = mask[j] ? std::fabs(wc[j]) : 0.f;
    const float delta = masked_mean(tmp, w, count) * 0.75f;
    for (int64_t j = 0; j < w; ++j) {
      float v = wc[j] > delta ? 1.f : 0.f;
      v = wc[j] < -delta ? -1.f : v;
      t[j] = v * (mask[j] ? 1.f : 0.f);
    }
    for (int64_t j = 0; j < w; ++j) tmp[j] = (t[j] * wc[j]) * (mask[j] ? 1.f : 0.f);
    const float num = aten_sum(tmp, w);
    for (int64_t j = 0; j < w; ++j) tmp[j] = std::fabs(t[j]) * (mask[j] ? 1.f : 0.f);
    const float den = aten_sum(tmp, w) + 1e-8f;
    const float alpha = num / den;
    for (int64_t j = 0; j < w; ++j)
      out[j] = out[j] + (alpha * t[j] + mu) * (mask[j] ? 1.f : 0.f);
  }
}


// ATen's sum of a row of n8 chunks of 8 (no cascade below 64 chunks), accumulated chunk by
// chunk: chunk c goes to accumulator c % 4, chunks past the last full group of 4 to the first.
// Masked-out entries are +-0 and add nothing, as in the tensor code.
struct ChunkSum {
  v8 acc[4] = {};
  int64_t main = 0;
  TWLA_INLINE explicit ChunkSum(int64_t n8) : main((n8 / 4) * 4) {}
  TWLA_INLINE void add(int64_t c, v8 v) { acc[c < main ? (c & 3) : 0] += v; }
  TWLA_INLINE float result() {
    v8 a = acc[0];
    for (int k = 1; k < 4; ++k) a += acc[k];
    float f = 0.f;
    for (int l = 0; l < 8; ++l) f += a[l];
    return 0.f + f;
  }
};

// Widths that are a multiple of 8 (below 512): the same operations, fused into four passes of
// 8-lane chunks. scratch: W, wc, t, m.
TWLA_INLINE void greedy_fit_x8(const float* __restrict x, const bool* __restrict mask, int64_t w, int order,
                   float* __restrict out, float* __restrict scratch) {
  float* __restrict W = scratch;
  float* __restrict wc = scratch + w;
  float* __restrict t = scratch + 2 * w;
  float* __restrict m = scratch + 3 * w;
  const int64_t n8 = w / 8;
  int64_t count = 0;
  for (int64_t j = 0; j < w; ++j) {
    m[j] = mask[j] ? 1.f : 0.f;
    W[j] = x[j] * m[j];
    out[j] = 0.f;
    count += mask[j];
  }
  const float fcount = static_cast<float>(count);
  const v8 one = {1.f, 1.f, 1.f, 1.f, 1.f, 1.f, 1.f, 1.f}, zero = {};
  for (int k = 0; k < order; ++k) {
    ChunkSum s_mu(n8);
    for (int64_t c = 0; c < n8; ++c) {
      const v8 r = load8(W + 8 * c) - load8(out + 8 * c);
      store8(wc + 8 * c, r);
      s_mu.add(c, r * load8(m + 8 * c));
    }
    float mu = s_mu.result() / fcount;
    if (std::isnan(mu)) mu = 0.f;
    ChunkSum s_abs(n8);
    for (int64_t c = 0; c < n8; ++c) {
      const v8 mc = load8(m + 8 * c);
      const v8 r = load8(wc + 8 * c) - mu * mc;
      store8(wc + 8 * c, r);
      s_abs.add(c, abs8(r) * mc);
    }
    float delta = s_abs.result() / fcount;
    if (std::isnan(delta)) delta = 0.f;
    delta = delta * 0.75f;
    ChunkSum s_num(n8), s_den(n8);
    for (int64_t c = 0; c < n8; ++c) {
      const v8 mc = load8(m + 8 * c), r = load8(wc + 8 * c);
      v8 tv = r > delta ? one : zero;
      tv = r < -delta ? -one : tv;
      tv = tv * mc;
      store8(t + 8 * c, tv);
      s_num.add(c, (tv * r) * mc);
      s_den.add(c, abs8(tv) * mc);
    }
    const float alpha = s_num.result() / (s_den.result() + 1e-8f);
    for (int64_t c = 0; c < n8; ++c) {
      const v8 o = load8(out + 8 * c) + (alpha * load8(t + 8 * c) + mu) * load8(m + 8 * c);
      store8(out + 8 * c, o);
    }
  }
}
}  // namespace

TWLA_CLONES void greedy_fit(const float* x, const bool* mask, int64_t w, int order, float* out, float* scratch) {
  if (w % 8 == 0 && w < 512)
    greedy_fit_x8(x, mask, w, order, out, scratch);
  else
    greedy_fit_generic(x, mask, w, order, out, scratch);
}

}  // namespace twla::e2m::row
