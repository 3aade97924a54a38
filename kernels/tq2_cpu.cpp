// kernels/tq2_cpu.cpp: tq2 GEMV / small-batch GEMM on the CPU: AVX2 (chosen at run time) and a
// portable scalar path, rows split over ThreadPool. Each 32-byte block of a row is decoded once
// and used for a chunk of tokens (8 for integer activations, 4 for fp32); K is chunked so the
// chunk's activations stay in L1 while a tile of rows is swept.
// The integer path has an AVX-VNNI variant (vpdpbusd on ymm) and an AVX-512 one (zmm, in
// tq2_avx512.cpp), picked at run time where the CPU has them.
// Not here: the references (tq2_ref.cpp), packing (tq2_pack.cpp), the row-tile driver (tq2_rows.h).
// Layout and math: tq2.h.
//
// Integer activations, per row o and group g (A = sum q u with u = t + 1, Q = sum q):
//   sum_k (q - z) s w = s * (sum_g [alpha_g (A_g - Q_g) + mu_g Q_g] - z * wsum_o)
// fp32 activations: y = sum_g alpha_g sum_k t x + mu_g sum_k x.
#include <immintrin.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "kernels/thread_pool.h"
#include "kernels/tq2.h"
#include "kernels/tq2_rows.h"

namespace twla::kernels {
namespace {
using detail::act_finish;
using detail::drive;

// ---- scalar ----------------------------------------------------------------------------------

// sum over blocks [blk0, blk1) of x[k] * (u[k] - off): off = 0 gives sum q u, off = 1 sum x t.
template <class Acc, class X>
Acc block_dot(const uint8_t* row, const X* x, int64_t blk0, int64_t blk1, int off) {
  Acc s = 0;
  for (int64_t blk = blk0; blk < blk1; ++blk)
    for (int j = 0; j < 32; ++j) {
      const int v = row[blk * 32 + j];
      const X* xj = x + blk * kTq2Block + j;
      s += Acc(xj[0]) * ((v & 3) - off) + Acc(xj[32]) * (((v >> 2) & 3) - off) +
           Acc(xj[64]) * (((v >> 4) & 3) - off) + Acc(xj[96]) * ((v >> 6) - off);
    }
  return s;
}

void rows_act_scalar(const Tq2View& w, const Tq2Act& a, float* y, int64_t o0, int64_t o1) {
  const int64_t bpg = w.blocks_per_group(), G = w.n_groups;
  for (int64_t o = o0; o < o1; ++o) {
    const uint8_t* row = w.codes + o * w.row_bytes();
    for (int b = 0; b < a.batch; ++b) {
      const uint8_t* q = a.q.data() + b * a.ic_pad;
      double out = 0;
      for (int64_t g = 0; g < G; ++g) {
        const int64_t A = block_dot<int64_t>(row, q, g * bpg, (g + 1) * bpg, 0);
        double al = w.alpha[o * G + g], mu = w.mu[o * G + g];
        out += al * double(A - a.gsum[b * G + g]) + mu * a.gsum[b * G + g];
      }
      y[b * w.oc + o] = float(a.scale[b] * (out - double(a.zero[b]) * w.wsum[o]));
    }
  }
}

// x: [batch, ic_pad] zero-padded; xs: [batch, G] group sums of x.
void rows_f32_scalar(const Tq2View& w, const float* x, const double* xs, int batch, float* y, int64_t o0, int64_t o1) {
  const int64_t bpg = w.blocks_per_group(), G = w.n_groups;
  for (int64_t o = o0; o < o1; ++o) {
    const uint8_t* row = w.codes + o * w.row_bytes();
    for (int b = 0; b < batch; ++b) {
      const float* xb = x + b * w.ic_pad;
      double out = 0;
      for (int64_t g = 0; g < G; ++g) {
        const float s = block_dot<float>(row, xb, g * bpg, (g + 1) * bpg, 1);
        out += double(w.alpha[o * G + g]) * s + double(w.mu[o * G + g]) * xs[b * G + g];
      }
      y[b * w.oc + o] = float(out);
    }
  }
}

// ---- AVX2 ------------------------------------------------------------------------------------

#define TWLA_AVX2 __attribute__((target("avx2,fma")))

TWLA_AVX2 inline int32_t hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}
TWLA_AVX2 inline float hsum_f32(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// The AVX2 kernels accumulate, for one row o and tokens [b0, b0 + NB), alpha_g * (partial dot)
// over blocks [k0, k1) into out[b]; the terms that need whole groups (mu_g, Q_g, zero points) are
// added by the finisher. This linearity lets the driver split K so the tokens' activations of one
// K chunk stay in L1 while a tile of rows is swept (a 16384-wide fp32 row of x is 64 KiB).
template <int NB>
TWLA_AVX2 void row_act_avx2(const Tq2View& w, const Tq2Act& a, int64_t o, int b0, int64_t k0, int64_t k1, double* out) {
  const __m256i m3 = _mm256_set1_epi8(3), ones = _mm256_set1_epi16(1);
  const int64_t bpg = w.blocks_per_group();
  const uint8_t* row = w.codes + o * w.row_bytes();
  const uint8_t* q[NB];
  for (int b = 0; b < NB; ++b) q[b] = a.q.data() + (b0 + b) * a.ic_pad;
  for (int64_t g = k0 / bpg; g * bpg < k1; ++g) {
    __m256i acc[NB];
    for (int b = 0; b < NB; ++b) acc[b] = _mm256_setzero_si256();
    const int64_t e = std::min(k1, (g + 1) * bpg);
    // q <= 255, u <= 2: one block adds at most 4 * 1020 = 4080 per int16 lane, so 8 blocks
    // (32640) fit before widening to int32 with madd.
    for (int64_t blk0 = std::max(k0, g * bpg); blk0 < e; blk0 += 8) {
      __m256i p[NB];
      for (int b = 0; b < NB; ++b) p[b] = _mm256_setzero_si256();
      for (int64_t blk = blk0; blk < std::min(e, blk0 + 8); ++blk) {
        __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + blk * 32));
        __m256i u0 = _mm256_and_si256(v, m3), u1 = _mm256_and_si256(_mm256_srli_epi16(v, 2), m3);
        __m256i u2 = _mm256_and_si256(_mm256_srli_epi16(v, 4), m3), u3 = _mm256_and_si256(_mm256_srli_epi16(v, 6), m3);
#pragma GCC unroll 8
        for (int b = 0; b < NB; ++b) {
          const __m256i* qb = reinterpret_cast<const __m256i*>(q[b] + blk * kTq2Block);
          __m256i s01 = _mm256_add_epi16(_mm256_maddubs_epi16(_mm256_loadu_si256(qb), u0),
                                         _mm256_maddubs_epi16(_mm256_loadu_si256(qb + 1), u1));
          __m256i s23 = _mm256_add_epi16(_mm256_maddubs_epi16(_mm256_loadu_si256(qb + 2), u2),
                                         _mm256_maddubs_epi16(_mm256_loadu_si256(qb + 3), u3));
          p[b] = _mm256_add_epi16(p[b], _mm256_add_epi16(s01, s23));
        }
      }
      for (int b = 0; b < NB; ++b) acc[b] = _mm256_add_epi32(acc[b], _mm256_madd_epi16(p[b], ones));
    }
    double al = w.alpha[o * w.n_groups + g];
    for (int b = 0; b < NB; ++b) out[b] += al * hsum_i32(acc[b]);  // alpha * sum q u
  }
}

// AVX-VNNI (VEX vpdpbusd): q * u of 4 bytes summed into int32 in one instruction, replacing
// maddubs + add + madd. dpbusd has ~5 cycles latency, so each token gets S independent
// accumulators, and for small NB two sets alternate between consecutive blocks.
#define TWLA_VNNI __attribute__((target("avx2,fma,avxvnni")))
template <int NB, int S>
TWLA_VNNI __attribute__((always_inline)) inline void vnni_block(const uint8_t* row, const uint8_t* const* q, int64_t blk,
                                                                __m256i (&acc)[NB][S]) {
  const __m256i m3 = _mm256_set1_epi8(3);
  __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + blk * 32));
  __m256i u[4] = {_mm256_and_si256(v, m3), _mm256_and_si256(_mm256_srli_epi16(v, 2), m3),
                  _mm256_and_si256(_mm256_srli_epi16(v, 4), m3), _mm256_and_si256(_mm256_srli_epi16(v, 6), m3)};
#pragma GCC unroll 8
  for (int b = 0; b < NB; ++b) {
    const __m256i* qb = reinterpret_cast<const __m256i*>(q[b] + blk * kTq2Block);
#pragma GCC unroll 4
    for (int s = 0; s < 4; ++s) acc[b][s % S] = _mm256_dpbusd_avx_epi32(acc[b][s % S], _mm256_loadu_si256(qb + s), u[s]);
  }
}

template <int NB>
TWLA_VNNI void row_act_vnni(const Tq2View& w, const Tq2Act& a, int64_t o, int b0, int64_t k0, int64_t k1, double* out) {
  constexpr int S = NB == 1 ? 4 : NB <= 4 ? 2 : 1;
  constexpr bool kPair = NB * S <= 4;
  const int64_t bpg = w.blocks_per_group();
  const uint8_t* row = w.codes + o * w.row_bytes();
  const uint8_t* q[NB];
  for (int b = 0; b < NB; ++b) q[b] = a.q.data() + (b0 + b) * a.ic_pad;
  for (int64_t g = k0 / bpg; g * bpg < k1; ++g) {
    __m256i A[NB][S], B[NB][S];
    for (int b = 0; b < NB; ++b)
      for (int i = 0; i < S; ++i) A[b][i] = B[b][i] = _mm256_setzero_si256();
    int64_t blk = std::max(k0, g * bpg);
    const int64_t e = std::min(k1, (g + 1) * bpg);
    if (kPair)
      for (; blk + 1 < e; blk += 2) vnni_block<NB, S>(row, q, blk, A), vnni_block<NB, S>(row, q, blk + 1, B);
    for (; blk < e; ++blk) vnni_block<NB, S>(row, q, blk, A);
    const double al = w.alpha[o * w.n_groups + g];
    for (int b = 0; b < NB; ++b) {
      __m256i t = _mm256_add_epi32(A[b][0], B[b][0]);
      for (int i = 1; i < S; ++i) t = _mm256_add_epi32(t, _mm256_add_epi32(A[b][i], B[b][i]));
      out[b] += al * hsum_i32(t);  // alpha * sum q u
    }
  }
}

template <int NB>
TWLA_AVX2 void row_f32_avx2(const Tq2View& w, const float* x, int64_t o, int b0, int64_t k0, int64_t k1, double* out) {
  constexpr int NA = NB == 1 ? 4 : 2;  // independent FMA chains per token, to hide FMA latency
  const __m256i m3 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
  const int64_t bpg = w.blocks_per_group();
  const uint8_t* row = w.codes + o * w.row_bytes();
  for (int64_t g = k0 / bpg; g * bpg < k1; ++g) {
    __m256 acc[NB][NA];
    for (int b = 0; b < NB; ++b)
      for (int i = 0; i < NA; ++i) acc[b][i] = _mm256_setzero_ps();
    for (int64_t blk = std::max(k0, g * bpg); blk < std::min(k1, (g + 1) * bpg); ++blk) {
      __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + blk * 32));
#pragma GCC unroll 4
      for (int s = 0; s < 4; ++s) {
        __m256i t = _mm256_sub_epi8(_mm256_and_si256(_mm256_srli_epi16(v, 2 * s), m3), one);
        __m128i lo = _mm256_castsi256_si128(t), hi = _mm256_extracti128_si256(t, 1);
        __m256 f[4] = {_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)),
                       _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))),
                       _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)),
                       _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8)))};
#pragma GCC unroll 4
        for (int b = 0; b < NB; ++b) {
          const float* xb = x + (b0 + b) * w.ic_pad + blk * kTq2Block + s * 32;
#pragma GCC unroll 4
          for (int i = 0; i < 4; ++i) {
            __m256& ac = acc[b][NA == 4 ? (s + i) % 4 : i % 2];
            ac = _mm256_fmadd_ps(f[i], _mm256_loadu_ps(xb + 8 * i), ac);
          }
        }
      }
    }
    double al = w.alpha[o * w.n_groups + g];
    for (int b = 0; b < NB; ++b) {
      __m256 s = acc[b][0];
      for (int i = 1; i < NA; ++i) s = _mm256_add_ps(s, acc[b][i]);
      out[b] += al * hsum_f32(s);  // alpha * sum t x
    }
  }
}

template <bool VNNI>
void rows_act_avx2(const Tq2View& w, const Tq2Act& a, float* y, int64_t o0, int64_t o1) {
  auto row = [&](int nb, int64_t o, int b0, int64_t k0, int64_t k1, double* out) {
#define TWLA_ROW(N) \
  case N: return VNNI ? row_act_vnni<N>(w, a, o, b0, k0, k1, out) : row_act_avx2<N>(w, a, o, b0, k0, k1, out)
    switch (nb) {
      TWLA_ROW(1); TWLA_ROW(2); TWLA_ROW(3); TWLA_ROW(4); TWLA_ROW(5); TWLA_ROW(6); TWLA_ROW(7);
      default: TWLA_ROW(8);
    }
#undef TWLA_ROW
  };
  drive<8>(w, a.batch, 1, o0, o1, row, [&](int64_t o, int b, double part) { act_finish(w, a, y, o, b, part); });
}

void rows_f32_avx2(const Tq2View& w, const float* x, const double* xs, int batch, float* y, int64_t o0, int64_t o1) {
  auto row = [&](int nb, int64_t o, int b0, int64_t k0, int64_t k1, double* out) {
    switch (nb) {
      case 1: return row_f32_avx2<1>(w, x, o, b0, k0, k1, out);
      case 2: return row_f32_avx2<2>(w, x, o, b0, k0, k1, out);
      case 3: return row_f32_avx2<3>(w, x, o, b0, k0, k1, out);
      default: return row_f32_avx2<4>(w, x, o, b0, k0, k1, out);
    }
  };
  const int64_t G = w.n_groups;
  drive<4>(w, batch, 4, o0, o1, row, [&](int64_t o, int b, double part) {
    for (int64_t g = 0; g < G; ++g) part += double(w.mu[o * G + g]) * xs[b * G + g];
    y[b * w.oc + o] = float(part);
  });
}

enum class Impl { kScalar, kAvx2, kVnni, kAvx512 };
Impl pick(Tq2Path p) {
  if (p == Tq2Path::kScalar) return Impl::kScalar;
  const bool avx2 = cpu_has_avx2(), vnni = avx2 && cpu_has_avx_vnni(), v512 = avx2 && cpu_has_avx512_vnni();
  if (p == Tq2Path::kAvx2 && !avx2) throw std::invalid_argument("tq2: path avx2 requested but this CPU lacks AVX2/FMA");
  if (p == Tq2Path::kAvxVnni && !vnni) throw std::invalid_argument("tq2: path avx_vnni requested but this CPU lacks AVX-VNNI");
  if (p == Tq2Path::kAvx512 && !v512)
    throw std::invalid_argument("tq2: path avx512 requested but this CPU (or OS) lacks AVX512BW + AVX512-VNNI; "
                                "use path auto");
  if (p == Tq2Path::kAvx2) return Impl::kAvx2;
  if (p == Tq2Path::kAvxVnni) return Impl::kVnni;
  return v512 ? Impl::kAvx512 : vnni ? Impl::kVnni : avx2 ? Impl::kAvx2 : Impl::kScalar;
}

void check_threads(const Tq2Opts& o) {
  if (o.threads < 1) throw std::invalid_argument("tq2: threads=" + std::to_string(o.threads) + " must be >= 1");
}

}  // namespace

void tq2_gemm_act(const Tq2View& w, const Tq2Act& a, float* y, const Tq2Opts& opt) {
  check_threads(opt);
  if (a.ic != w.ic || a.ic_pad != w.ic_pad || a.n_groups != w.n_groups || a.batch < 1)
    throw std::invalid_argument("tq2: activations prepared for ic=" + std::to_string(a.ic) + " G=" +
                                std::to_string(a.n_groups) + " do not match weights ic=" + std::to_string(w.ic) +
                                " G=" + std::to_string(w.n_groups) + "; prepare them with the same weights");
  const Impl impl = pick(opt.path);
  detail::Tq2PairAct pairs;  // the AVX-512 path's activation layout, built once per call
  if (impl == Impl::kAvx512) pairs = detail::tq2_pair_act(a);
  parallel_rows(opt.threads, w.oc, 8, [&](int64_t o0, int64_t o1) {
    if (impl == Impl::kAvx512) detail::rows_act_avx512(w, a, pairs, y, o0, o1);
    else if (impl == Impl::kVnni) rows_act_avx2<true>(w, a, y, o0, o1);
    else if (impl == Impl::kAvx2) rows_act_avx2<false>(w, a, y, o0, o1);
    else rows_act_scalar(w, a, y, o0, o1);
  });
}

void tq2_gemm_f32(const Tq2View& w, const float* x, int batch, float* y, const Tq2Opts& opt) {
  check_threads(opt);
  if (batch < 1) throw std::invalid_argument("tq2: batch=" + std::to_string(batch) + " must be >= 1");
  const bool avx = pick(opt.path) != Impl::kScalar;  // fp32 has no VNNI variant: AVX2 serves it
  // Zero-padded copy (the pad's codes are t = 0, but 0 * garbage could be NaN) and group sums.
  std::vector<float> xp(size_t(batch) * w.ic_pad, 0.f);
  std::vector<double> xs(size_t(batch) * w.n_groups, 0.0);
  for (int b = 0; b < batch; ++b)
    for (int64_t k = 0; k < w.ic; ++k) {
      float v = x[b * w.ic + k];
      xp[b * w.ic_pad + k] = v;
      xs[b * w.n_groups + k / w.group_size] += v;
    }
  parallel_rows(opt.threads, w.oc, 8, [&](int64_t o0, int64_t o1) {
    avx ? rows_f32_avx2(w, xp.data(), xs.data(), batch, y, o0, o1)
        : rows_f32_scalar(w, xp.data(), xs.data(), batch, y, o0, o1);
  });
}

}  // namespace twla::kernels
