// kernels/e2m_cpu.cpp: e2m GEMV / small-batch GEMM on the CPU: AVX2 (chosen at run time) and a
// portable scalar path, rows split over ThreadPool. The activations are permuted once per call
// into each block's column order (zero in the pad), so every row streams its codes linearly.
// Per row-block the AVX2 path builds the fp32 tables of e2m.h (A: mu + alpha0 t0 and alpha1 t1,
// B: mu + alpha0 t0) and decodes 8 weights with broadcast + variable shift + vpermps; each
// decoded vector is used by a chunk of up to 8 tokens. K is chunked so the chunk's activations
// stay in L1 while a tile of rows is swept (as in tq2_cpu.cpp).
// Not here: the references (e2m_ref.cpp), packing (e2m_pack.cpp). Layout and math: e2m.h.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/e2m.h"
#include "kernels/kernels.h"
#include "kernels/thread_pool.h"

namespace twla::kernels {
namespace {

// xp [batch, nb * 128]: the activations in each block's permuted order, zero in the pad.
struct Prepared {
  std::vector<float> xp;
  int64_t stride = 0;
};
template <class Get>
Prepared permute(const E2mView& w, int batch, Get get) {
  Prepared p;
  p.stride = w.n_blocks * kE2mBlock;
  p.xp.assign(size_t(batch) * p.stride, 0.f);
  for (int b = 0; b < batch; ++b)
    for (int64_t blk = 0; blk < w.n_blocks; ++blk) {
      float* dst = p.xp.data() + b * p.stride + blk * kE2mBlock;
      const uint8_t* perm = w.perm + blk * kE2mBlock;
      for (int64_t i = 0; i < w.width(blk); ++i) dst[i] = get(b, blk * kE2mBlock + perm[i]);
    }
  return p;
}

inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// ---- scalar ----------------------------------------------------------------------------------

void rows_scalar(const E2mView& w, const Prepared& x, int batch, float* y, int64_t o0, int64_t o1) {
  std::vector<double> acc(batch);
  for (int64_t o = o0; o < o1; ++o) {
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int64_t blk = 0; blk < w.n_blocks; ++blk) {
      const E2mBlockInfo bi = w.blocks[blk];
      const uint8_t* c0 = w.codes + o * w.row_bytes + bi.offset;
      const float* P = w.params + (o * w.n_blocks + blk) * kE2mParams;
      float lut_a0[8], lut_a1[8], lut_b[8];
      for (int c = 0; c < 8; ++c) {
        const int h = c >> 2;
        const float t = float((c & 3) == 3 ? 0 : (c & 3) - 1);
        lut_a0[c] = P[h] + P[2 + h] * t, lut_a1[c] = P[4 + h] * t, lut_b[c] = P[6 + h] + P[8 + h] * t;
      }
      for (int64_t p = 0; p < w.width(blk); ++p) {
        const uint32_t g0 = load_u32(c0 + 3 * (p / 8)) >> (3 * (p % 8));
        float v;
        if (p < bi.n_a) {
          const uint32_t g1 = load_u32(c0 + kE2mC0Bytes + 3 * (p / 8)) >> (3 * (p % 8));
          v = lut_a0[g0 & 7] + lut_a1[g1 & 7];
        } else {
          v = lut_b[g0 & 7];
        }
        for (int b = 0; b < batch; ++b) acc[b] += double(v) * x.xp[b * x.stride + blk * kE2mBlock + p];
      }
    }
    for (int b = 0; b < batch; ++b) y[b * w.oc + o] = float(acc[b]);
  }
}

// ---- AVX2 ------------------------------------------------------------------------------------

#define TWLA_AVX2 __attribute__((target("avx2,fma")))
#define TWLA_AVX2_LAMBDA __attribute__((target("avx2,fma"), always_inline))

TWLA_AVX2 inline float hsum_f32(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

TWLA_AVX2 __attribute__((always_inline)) inline __m256i dec(const uint8_t* plane, int i, __m256i shifts) {
  return _mm256_srlv_epi32(_mm256_set1_epi32(int(load_u32(plane + 3 * i))), shifts);
}
// acc[b][SLOT] += wv * x of token b at group i. Slots are compile-time so acc stays in registers.
template <int NB, int S, int SLOT>
TWLA_AVX2 __attribute__((always_inline)) inline void use(__m256 (&acc)[NB][S], const float* const* xb, __m256 wv, int i) {
#pragma GCC unroll 8
  for (int b = 0; b < NB; ++b) acc[b][SLOT] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(xb[b] + 8 * i), acc[b][SLOT]);
}

// Adds row o's dot products with tokens [b0, b0 + NB) over blocks [k0, k1) into out[NB].
template <int NB>
TWLA_AVX2 void row_avx2(const E2mView& w, const Prepared& x, int64_t o, int b0, int64_t k0, int64_t k1,
                        double* out) {
  const __m256i shifts = _mm256_setr_epi32(0, 3, 6, 9, 12, 15, 18, 21), iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256 sign = _mm256_setr_ps(-1.f, 0.f, 1.f, 0.f, -1.f, 0.f, 1.f, 0.f);
  const __m256i lo_idx = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
  const __m256i i_mu_a = lo_idx, i_a0_a = _mm256_add_epi32(lo_idx, _mm256_set1_epi32(2));
  const __m256i i_a1_a = _mm256_add_epi32(lo_idx, _mm256_set1_epi32(4));
  const __m256i i_mu_b = i_a1_a, i_a0_b = _mm256_add_epi32(lo_idx, _mm256_set1_epi32(6));  // of P + 2
  const uint8_t* row = w.codes + o * w.row_bytes;
  constexpr int S = NB <= 2 ? 2 : 1;  // independent FMA chains per token, to hide FMA latency
  __m256 acc[NB][S];
  for (int b = 0; b < NB; ++b)
    for (int k = 0; k < S; ++k) acc[b][k] = _mm256_setzero_ps();
  for (int64_t blk = k0; blk < k1; ++blk) {
    const E2mBlockInfo bi = w.blocks[blk];
    const uint8_t* c0 = row + bi.offset;
    const uint8_t* c1 = c0 + kE2mC0Bytes;
    const float* P = w.params + (o * w.n_blocks + blk) * kE2mParams;
    const __m256 plo = _mm256_loadu_ps(P), phi = _mm256_loadu_ps(P + 2);
    // Exactly e2m_dequantize's fp32 ops: alpha * t is exact for t in {-1, 0, 1}, then one add.
    const __m256 lut_a0 = _mm256_add_ps(_mm256_permutevar8x32_ps(plo, i_mu_a),
                                        _mm256_mul_ps(_mm256_permutevar8x32_ps(plo, i_a0_a), sign));
    const __m256 lut_a1 = _mm256_mul_ps(_mm256_permutevar8x32_ps(plo, i_a1_a), sign);
    const __m256 lut_b = _mm256_add_ps(_mm256_permutevar8x32_ps(phi, i_mu_b),
                                       _mm256_mul_ps(_mm256_permutevar8x32_ps(phi, i_a0_b), sign));
    const float* xb[NB];
    for (int b = 0; b < NB; ++b) xb[b] = x.xp.data() + (b0 + b) * x.stride + blk * kE2mBlock;
    auto wa = [&](int i) TWLA_AVX2_LAMBDA {
      return _mm256_add_ps(_mm256_permutevar8x32_ps(lut_a0, dec(c0, i, shifts)),
                           _mm256_permutevar8x32_ps(lut_a1, dec(c1, i, shifts)));
    };
    auto wb = [&](int i) TWLA_AVX2_LAMBDA { return _mm256_permutevar8x32_ps(lut_b, dec(c0, i, shifts)); };
    const int ng = int((w.width(blk) + 7) / 8), nfull = bi.n_a / 8, na8 = (bi.n_a + 7) / 8;
    int i = 0;
    for (; i + S <= nfull; i += S) {
      use<NB, S, 0>(acc, xb, wa(i), i);
      if constexpr (S == 2) use<NB, S, S - 1>(acc, xb, wa(i + 1), i + 1);
    }
    for (; i < nfull; ++i) use<NB, S, 0>(acc, xb, wa(i), i);
    if (i < na8) {  // the group of 8 that holds both A and B positions
      const __m256 is_a = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(bi.n_a - 8 * i), iota));
      use<NB, S, 0>(acc, xb, _mm256_blendv_ps(wb(i), wa(i), is_a), i);
      ++i;
    }
    for (; i + S <= ng; i += S) {
      use<NB, S, 0>(acc, xb, wb(i), i);
      if constexpr (S == 2) use<NB, S, S - 1>(acc, xb, wb(i + 1), i + 1);
    }
    for (; i < ng; ++i) use<NB, S, 0>(acc, xb, wb(i), i);
  }
  for (int b = 0; b < NB; ++b) {
    __m256 t = acc[b][0];
    for (int k = 1; k < S; ++k) t = _mm256_add_ps(t, acc[b][k]);
    out[b] += hsum_f32(t);
  }
}

// Rows [o0, o1) in tiles of kTile rows; per tile, tokens in chunks of at most kMaxB; per token
// chunk, blocks in chunks whose activations fit in ~24 KiB of L1.
constexpr int64_t kTile = 32;
constexpr int kMaxB = 8;
void rows_avx2(const E2mView& w, const Prepared& x, int batch, float* y, int64_t o0, int64_t o1) {
  std::vector<double> out(kTile * batch);
  for (int64_t t0 = o0; t0 < o1; t0 += kTile) {
    const int64_t t1 = std::min(o1, t0 + kTile);
    std::fill(out.begin(), out.end(), 0.0);
    for (int b0 = 0; b0 < batch; b0 += kMaxB) {
      const int nb = std::min(kMaxB, batch - b0);
      const int64_t kc = std::max<int64_t>(1, (24 << 10) / (int64_t(nb) * kE2mBlock * 4));
      for (int64_t k0 = 0; k0 < w.n_blocks; k0 += kc) {
        const int64_t k1 = std::min(w.n_blocks, k0 + kc);
        for (int64_t o = t0; o < t1; ++o) {
          double* dst = &out[(o - t0) * batch + b0];
          switch (nb) {
            case 1: row_avx2<1>(w, x, o, b0, k0, k1, dst); break;
            case 2: row_avx2<2>(w, x, o, b0, k0, k1, dst); break;
            case 3: row_avx2<3>(w, x, o, b0, k0, k1, dst); break;
            case 4: row_avx2<4>(w, x, o, b0, k0, k1, dst); break;
            case 5: row_avx2<5>(w, x, o, b0, k0, k1, dst); break;
            case 6: row_avx2<6>(w, x, o, b0, k0, k1, dst); break;
            case 7: row_avx2<7>(w, x, o, b0, k0, k1, dst); break;
            default: row_avx2<8>(w, x, o, b0, k0, k1, dst); break;
          }
        }
      }
    }
    for (int64_t o = t0; o < t1; ++o)
      for (int b = 0; b < batch; ++b) y[b * w.oc + o] = float(out[(o - t0) * batch + b]);
  }
}

bool use_avx2(const E2mOpts& o) {
  if (o.threads < 1) throw std::invalid_argument("e2m: threads=" + std::to_string(o.threads) + " must be >= 1");
  if (o.path == E2mPath::kScalar) return false;
  const bool avx2 = cpu_has_avx2();
  if (o.path == E2mPath::kAvx2 && !avx2) throw std::invalid_argument("e2m: path avx2 requested but this CPU lacks AVX2/FMA");
  return avx2;
}

void run(const E2mView& w, const Prepared& x, int batch, float* y, const E2mOpts& opt) {
  const bool avx = use_avx2(opt);
  parallel_rows(opt.threads, w.oc, 8, [&](int64_t o0, int64_t o1) {
    avx ? rows_avx2(w, x, batch, y, o0, o1) : rows_scalar(w, x, batch, y, o0, o1);
  });
}

void check_batch(int batch) {
  if (batch < 1) throw std::invalid_argument("e2m: batch=" + std::to_string(batch) + " must be >= 1");
}

}  // namespace

void e2m_gemm_f32(const E2mView& w, const float* x, int batch, float* y, const E2mOpts& opt) {
  check_batch(batch);
  use_avx2(opt);  // argument errors before any work
  const Prepared p = permute(w, batch, [&](int b, int64_t k) { return x[b * w.ic + k]; });
  run(w, p, batch, y, opt);
}

void e2m_gemm_act(const E2mView& w, const uint8_t* q, const float* scale, const float* zero, int batch, float* y,
                  const E2mOpts& opt) {
  check_batch(batch);
  use_avx2(opt);
  const Prepared p = permute(w, batch, [&](int b, int64_t k) { return float(q[b * w.ic + k]) - zero[b]; });
  run(w, p, batch, y, opt);
  for (int b = 0; b < batch; ++b)
    for (int64_t o = 0; o < w.oc; ++o) y[b * w.oc + o] *= scale[b];
}

}  // namespace twla::kernels
