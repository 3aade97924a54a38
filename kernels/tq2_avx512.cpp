// kernels/tq2_avx512.cpp: the integer-activation tq2 kernel on zmm registers (AVX512BW +
// AVX512-VNNI vpdpbusd), picked at run time where cpu_has_avx512_vnni() (tq2_cpu.cpp dispatches).
// One 64-byte load holds two 32-byte blocks (256 weights); u_s = (codes >> 2s) & 3 for s = 0..3
// meets activations rearranged once per call (tq2_pair_act) so that its 64 partners are one
// contiguous load. Up to 16 tokens share each decoded pair. The next rows' codes are prefetched,
// and at batch 1 four rows are read at once (four streams per thread: one stream per thread left
// the GEMV well short of the memory roof). Sums are exact int32, as in the other paths, so outputs are bit-identical.
// Not here: dispatch, the scalar/AVX2 paths (tq2_cpu.cpp); the layout (tq2.h).
#include <immintrin.h>

#include <cstring>

#include "kernels/tq2_rows.h"

namespace twla::kernels::detail {

Tq2PairAct tq2_pair_act(const Tq2Act& a) {
  Tq2PairAct p;
  p.stride = int64_t(a.batch) * 256;
  const int64_t nblk = a.ic_pad / kTq2Block;
  p.q.assign(size_t((nblk + 1) / 2 * p.stride), 0);
  for (int b = 0; b < a.batch; ++b)
    for (int64_t blk = 0; blk < nblk; ++blk)
      for (int s = 0; s < 4; ++s)
        std::memcpy(&p.q[(blk / 2) * p.stride + b * 256 + s * 64 + (blk % 2) * 32],
                    &a.q[b * a.ic_pad + blk * kTq2Block + s * 32], 32);
  return p;
}

namespace {

#define TWLA_AVX512 __attribute__((target("avx512f,avx512bw,avx512vnni")))

// Prefetch the codes this many bytes (whole rows, at least one) ahead of the current row.
constexpr int64_t kPrefetchBytes = 4096;

// One pair: v holds its 64 code bytes (a masked-off half reads as u = 0, adding nothing).
// q: the pair's activations of the first token (tokens follow at 256-byte steps: one pointer).
template <int NB, int S>
TWLA_AVX512 __attribute__((always_inline)) inline void pair(__m512i v, const uint8_t* q, __m512i (&acc)[NB][S]) {
  const __m512i m3 = _mm512_set1_epi8(3);
  const __m512i u[4] = {_mm512_and_si512(v, m3), _mm512_and_si512(_mm512_srli_epi16(v, 2), m3),
                        _mm512_and_si512(_mm512_srli_epi16(v, 4), m3), _mm512_and_si512(_mm512_srli_epi16(v, 6), m3)};
#pragma GCC unroll 16
  for (int b = 0; b < NB; ++b) {
    const uint8_t* qb = q + b * 256;
#pragma GCC unroll 4
    for (int s = 0; s < 4; ++s) acc[b][s % S] = _mm512_dpbusd_epi32(acc[b][s % S], _mm512_loadu_si512(qb + 64 * s), u[s]);
  }
}

// Row o, tokens [b0, b0 + NB), blocks [k0, k1): out[b] += alpha_g * sum q u per group g.
// vpdpbusd has ~5 cycles latency: S accumulators per token, and for small NB two sets alternate
// between consecutive pairs, so at least 8 chains are independent.
template <int NB>
TWLA_AVX512 void row_act(const Tq2View& w, const Tq2PairAct& pa, int64_t o, int b0, int64_t k0, int64_t k1,
                         double* out) {
  constexpr int S = NB == 1 ? 4 : NB <= 4 ? 2 : 1;
  constexpr bool kTwo = NB * S <= 4;
  const __mmask64 lo = 0x00000000ffffffffull, hi = ~lo;
  const int64_t bpg = w.blocks_per_group(), rb = w.row_bytes();
  const uint8_t* row = w.codes + o * rb;
  const uint8_t* pf = row + std::max<int64_t>(1, (kPrefetchBytes + rb - 1) / rb) * rb;
  const uint8_t* q = pa.q.data() + b0 * 256;
  const int64_t qs = pa.stride;  // bytes per pair
  for (int64_t g = k0 / bpg; g * bpg < k1; ++g) {
    __m512i A[NB][S], B[NB][S];  // B only read when kTwo
    for (int b = 0; b < NB; ++b)
      for (int i = 0; i < S; ++i) A[b][i] = B[b][i] = _mm512_setzero_si512();
    int64_t blk = std::max(k0, g * bpg);
    const int64_t e = std::min(k1, (g + 1) * bpg);
    if (blk & 1) pair<NB, S>(_mm512_maskz_loadu_epi8(hi, row + (blk - 1) * 32), q + blk / 2 * qs, A), ++blk;
    for (; blk + 3 < e; blk += 4) {
      _mm_prefetch(reinterpret_cast<const char*>(pf + blk * 32), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(pf + blk * 32 + 64), _MM_HINT_T0);
      pair<NB, S>(_mm512_loadu_si512(row + blk * 32), q + blk / 2 * qs, A);
      if constexpr (kTwo) pair<NB, S>(_mm512_loadu_si512(row + blk * 32 + 64), q + (blk / 2 + 1) * qs, B);
      else pair<NB, S>(_mm512_loadu_si512(row + blk * 32 + 64), q + (blk / 2 + 1) * qs, A);
    }
    if (blk + 1 < e) {
      _mm_prefetch(reinterpret_cast<const char*>(pf + blk * 32), _MM_HINT_T0);
      pair<NB, S>(_mm512_loadu_si512(row + blk * 32), q + blk / 2 * qs, A), blk += 2;
    }
    if (blk < e) pair<NB, S>(_mm512_maskz_loadu_epi8(lo, row + blk * 32), q + blk / 2 * qs, A);
    const double al = w.alpha[o * w.n_groups + g];
    for (int b = 0; b < NB; ++b) {
      __m512i t = A[b][0];
      for (int i = 1; i < S; ++i) t = _mm512_add_epi32(t, A[b][i]);
      if constexpr (kTwo)
        for (int i = 0; i < S; ++i) t = _mm512_add_epi32(t, B[b][i]);
      out[b] += al * _mm512_reduce_add_epi32(t);  // alpha * sum q u
    }
  }
}

// Batch 1: R consecutive rows at once, so R streams (separate pages) are in flight per thread;
// the codes of the next R rows are prefetched. out[r] += sum_g alpha_g A_g of row o + r.
template <int R>
TWLA_AVX512 void rows_act_b1(const Tq2View& w, const Tq2PairAct& pa, int64_t o, double* out) {
  const __mmask64 lo = 0x00000000ffffffffull, hi = ~lo;
  const int64_t bpg = w.blocks_per_group(), rb = w.row_bytes(), nblk = w.ic_pad / kTq2Block, qs = pa.stride;
  const uint8_t* row = w.codes + o * rb;
  const uint8_t* pf = row + R * rb;
  const uint8_t* q = pa.q.data();
  for (int64_t g = 0; g * bpg < nblk; ++g) {
    __m512i A[R][1][2];
    for (auto& r : A) r[0][0] = r[0][1] = _mm512_setzero_si512();
    int64_t blk = g * bpg;
    const int64_t e = std::min(nblk, (g + 1) * bpg);
    if (blk & 1) {
      for (int r = 0; r < R; ++r)
        pair<1, 2>(_mm512_maskz_loadu_epi8(hi, row + r * rb + (blk - 1) * 32), q + blk / 2 * qs, A[r]);
      ++blk;
    }
    for (; blk + 1 < e; blk += 2) {
      for (int r = 0; r < R; ++r) {
        _mm_prefetch(reinterpret_cast<const char*>(pf + r * rb + blk * 32), _MM_HINT_T0);
        pair<1, 2>(_mm512_loadu_si512(row + r * rb + blk * 32), q + blk / 2 * qs, A[r]);
      }
    }
    if (blk < e)
      for (int r = 0; r < R; ++r)
        pair<1, 2>(_mm512_maskz_loadu_epi8(lo, row + r * rb + blk * 32), q + blk / 2 * qs, A[r]);
    for (int r = 0; r < R; ++r) {
      const double al = w.alpha[(o + r) * w.n_groups + g];
      out[r] += al * _mm512_reduce_add_epi32(_mm512_add_epi32(A[r][0][0], A[r][0][1]));  // alpha * sum q u
    }
  }
}

}  // namespace

void rows_act_avx512(const Tq2View& w, const Tq2Act& a, const Tq2PairAct& p, float* y, int64_t o0, int64_t o1) {
  auto row = [&](int nb, int64_t o, int b0, int64_t k0, int64_t k1, double* out) {
#define TWLA_ROW(N) \
  case N: return row_act<N>(w, p, o, b0, k0, k1, out)
    switch (nb) {
      TWLA_ROW(1); TWLA_ROW(2); TWLA_ROW(3); TWLA_ROW(4); TWLA_ROW(5); TWLA_ROW(6); TWLA_ROW(7); TWLA_ROW(8);
      TWLA_ROW(9); TWLA_ROW(10); TWLA_ROW(11); TWLA_ROW(12); TWLA_ROW(13); TWLA_ROW(14); TWLA_ROW(15);
      default: TWLA_ROW(16);
    }
#undef TWLA_ROW
  };
  if (a.batch == 1) {  // GEMV: 4 rows at once (the K-chunked tile sweep is for token reuse)
    for (int64_t o = o0; o < o1; o += 4) {
      double out[4] = {0, 0, 0, 0};
      if (o + 4 <= o1) rows_act_b1<4>(w, p, o, out);
      else
        for (int64_t i = o; i < o1; ++i) row_act<1>(w, p, i, 0, 0, w.ic_pad / kTq2Block, &out[i - o]);
      for (int64_t i = o; i < std::min(o1, o + 4); ++i) act_finish(w, a, y, i, 0, out[i - o]);
    }
    return;
  }
  drive<16>(w, a.batch, 1, o0, o1, row, [&](int64_t o, int b, double part) { act_finish(w, a, y, o, b, part); });
}

}  // namespace twla::kernels::detail
