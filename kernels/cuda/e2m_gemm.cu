// kernels/cuda/e2m_gemm.cu: e2m GEMMs for prefill on tensor cores (WMMA 16x16x16): int8 codes
// (int32 accumulate) and fp16 x (fp32 accumulate), plus the per-call activation prep (permute +
// per-block region sums) and the per-weight row sums the int8 epilogue needs.
// Not here: GEMV (e2m_gemv.cu). Math and argument layout: e2m_cuda.h; format: kernels/e2m.h.
//
// Why planes: an e2m weight is w = mu_h + a0_h t0 (+ a1_h t1 in the salient region A) with the
// params of its row, block and hi/lo group h, and h varies per element, so sum_k x_k w_k is not one
// ternary dot product. It splits exactly into 8 ternary planes per 128-column block (e2m_planes.h,
// shared with the CPU test of the split) plus mu_A0 * sum_A x + mu_B0 * sum_B x from the prep's
// region sums. Each plane is decoded into shared memory and multiplied on the tensor cores over
// the 16-wide K slabs its region touches only (A planes: ceil(n_a / 16) slabs, B planes: the
// rest), then scaled by its fp32 coefficient in the epilogue. Tiling as tq2_gemm.cu (64x64 tile,
// 4 warps of 32x32, K = one 128-column block, no pipelining): correctness first, then speed.
#include <mma.h>

#include <stdexcept>
#include <string>

#include "kernels/cuda/e2m_cuda.h"
#include "kernels/cuda/e2m_planes.h"
#include "kernels/cuda/tq2_cuda_check.h"
#include "kernels/cuda/wmma_tiles.cuh"

namespace twla::kernels::cuda {
namespace {
namespace wmma = nvcuda::wmma;

namespace planes = twla::kernels::e2m_planes;
constexpr int BM = 64, BN = 64, BK = 128, NT = 128, KS = planes::kSlab;

using tiles::Frag;
using tiles::slab;
static_assert(KS == tiles::KS, "the tiles' K slab is the WMMA k");

__device__ __forceinline__ uint32_t word24(const uint8_t* p) {
  return uint32_t(__ldg(p)) | (uint32_t(__ldg(p + 1)) << 8) | (uint32_t(__ldg(p + 2)) << 16);
}

// xp: permuted activations [M, nb * 128]; rsum [M, nb, 2] (sum over A, sum over B).
// I8: y = s (acc - z wsum); else y = acc.
template <class T, class RS, bool I8>
__global__ void __launch_bounds__(NT) gemm_kernel(E2mDevice w, const T* __restrict__ xp, const RS* __restrict__ rsum,
                                                  const float* __restrict__ scale, const float* __restrict__ zero,
                                                  const float* __restrict__ wsum, int M, float* __restrict__ y) {
  using F = Frag<T>;
  using E = typename F::E;
  __shared__ __align__(128) E As[BM * BK];
  __shared__ __align__(128) E Bs[BN * BK];
  __shared__ __align__(128) typename F::Acc Cs[BM * BN];
  const int tid = threadIdx.x, warp = tid / 32, wm = warp / 2, wn = warp % 2;
  const int64_t m0 = int64_t(blockIdx.y) * BM, n0 = int64_t(blockIdx.x) * BN, nb = w.n_blocks, ldx = nb * BK;
  // Epilogue ownership: thread tid owns tile column cn = tid % BN (constant) and rows tid / BN + 2 e.
  constexpr int kPer = BM * BN / NT, kRowStep = NT / BN;
  const int cn = tid % BN, r0 = tid / BN;
  const int64_t n_ep = n0 + cn;
  float facc[kPer];
#pragma unroll
  for (int e = 0; e < kPer; ++e) facc[e] = 0.f;
  // Decode ownership: thread tid decodes positions 64 hf .. 64 hf + 63 of tile row rd.
  const int rd = tid / 2, hf = tid % 2;
  const int64_t n_dec = n0 + rd;
  typename F::C c[2][2];

  for (int64_t blk = 0; blk < nb; ++blk) {
    const int n_a = w.blocks[blk].n_a;
    const int width = int(blk + 1 < nb ? BK : w.ic - blk * BK);
    __syncthreads();  // the previous block's last epilogue and MMAs are done with Cs / As
    // A tile: BM rows x BK permuted elements, 16-byte chunks; rows >= M are zero.
    constexpr int kChunk = 16 / sizeof(E), kPerRow = BK / kChunk;
    for (int i = tid; i < BM * kPerRow; i += NT) {
      const int r = i / kPerRow, k = (i % kPerRow) * kChunk;
      uint4 v = make_uint4(0, 0, 0, 0);
      if (m0 + r < M) v = __ldg(reinterpret_cast<const uint4*>(xp + (m0 + r) * ldx + blk * BK + k));
      *reinterpret_cast<uint4*>(&As[slab(BM, r, k)]) = v;
    }
    // This thread's code words (8 groups of 8 positions; c1 only inside A) and epilogue params.
    uint32_t v0[8], v1[8];
    {
      const uint8_t* c0 = w.codes + (n_dec < w.oc ? n_dec : 0) * w.row_bytes + w.blocks[blk].offset;
#pragma unroll
      for (int g = 0; g < 8; ++g) {
        const int gi = 8 * hf + g;
        const bool live = n_dec < w.oc && 8 * gi < width;
        v0[g] = live ? word24(c0 + 3 * gi) : 0x249249u;  // c0 = 1: t0 = 0, h = 0
        v1[g] = live && 8 * gi < n_a ? word24(c0 + kE2mC0Bytes + 3 * gi) : 0x249249u;
      }
    }
    float prm[kE2mParams];
#pragma unroll
    for (int k = 0; k < kE2mParams; ++k)
      prm[k] = n_ep < w.oc ? __ldg(w.params + (n_ep * nb + blk) * kE2mParams + k) : 0.f;
    // mu_A0 * sum_A x + mu_B0 * sum_B x.
#pragma unroll
    for (int e = 0; e < kPer; ++e) {
      const int64_t m = m0 + r0 + kRowStep * e;
      if (m < M && n_ep < w.oc)
        facc[e] += prm[0] * float(rsum[(m * nb + blk) * 2]) + prm[6] * float(rsum[(m * nb + blk) * 2 + 1]);
    }
    for (int P = 0; P < planes::kPlanes; ++P) {
      const planes::Range rg = planes::range(P, n_a, width);
      if (rg.s_lo >= rg.s_hi) continue;  // uniform over the block: n_a and width are per block
      // Decode plane P into Bs for slabs [s_lo, s_hi) (rows >= oc decode to 0 via c0 = 1).
#pragma unroll
      for (int g = 0; g < 8; ++g) {
        const int gi = 8 * hf + g, sl = gi / 2;  // 8 positions = half a slab
        if (sl < rg.s_lo || sl >= rg.s_hi) continue;
#pragma unroll
        for (int j = 0; j < 8; ++j)
          Bs[slab(BN, rd, 8 * gi + j)] = F::code(planes::value(P, rg, v0[g], v1[g], j, 8 * gi + j));
      }
      __syncthreads();
#pragma unroll
      for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j) wmma::fill_fragment(c[i][j], typename F::Acc(0));
      for (int s = rg.s_lo; s < rg.s_hi; ++s) {
        typename F::A a[2];
        typename F::B b[2];
#pragma unroll
        for (int i = 0; i < 2; ++i) wmma::load_matrix_sync(a[i], &As[slab(BM, wm * 32 + i * 16, s * KS)], KS);
#pragma unroll
        for (int j = 0; j < 2; ++j) wmma::load_matrix_sync(b[j], &Bs[slab(BN, wn * 32 + j * 16, s * KS)], KS);
#pragma unroll
        for (int i = 0; i < 2; ++i)
#pragma unroll
          for (int j = 0; j < 2; ++j) wmma::mma_sync(c[i][j], a[i], b[j], c[i][j]);
      }
#pragma unroll
      for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j)
          wmma::store_matrix_sync(&Cs[(wm * 32 + i * 16) * BN + wn * 32 + j * 16], c[i][j], BN, wmma::mem_row_major);
      __syncthreads();
      const float coef = planes::coef(P, prm);
#pragma unroll
      for (int e = 0; e < kPer; ++e) facc[e] += coef * float(Cs[(r0 + kRowStep * e) * BN + cn]);
      // The next plane's decode writes Bs only after every warp passed the barrier above (its MMAs
      // are done), and its Cs store comes after the next barrier (every epilogue read is done).
    }
  }
#pragma unroll
  for (int e = 0; e < kPer; ++e) {
    const int64_t m = m0 + r0 + kRowStep * e;
    if (m >= M || n_ep >= w.oc) continue;
    if constexpr (I8) y[m * w.oc + n_ep] = scale[m] * (facc[e] - zero[m] * __ldg(wsum + n_ep));
    else y[m * w.oc + n_ep] = facc[e];
  }
}

template <class T>
__device__ __forceinline__ T zero_of();
template <>
__device__ __forceinline__ int8_t zero_of<int8_t>() { return 0; }
template <>
__device__ __forceinline__ __half zero_of<__half>() { return __float2half(0.f); }

// One block of 128 threads per (weight block, token): xp = x in the block's permuted order (zero in
// the pad), rsum = its sums over A (p < n_a) and B (n_a <= p < width).
template <class T, class RS>
__global__ void __launch_bounds__(BK) prep_kernel(E2mDevice w, const T* __restrict__ x, T* __restrict__ xp,
                                                  RS* __restrict__ rsum) {
  const int64_t blk = blockIdx.x, m = blockIdx.y, nb = w.n_blocks;
  const int p = threadIdx.x, n_a = w.blocks[blk].n_a;
  const int width = int(blk + 1 < nb ? BK : w.ic - blk * BK);
  const T v = p < width ? x[m * w.ic + blk * BK + w.perm[blk * BK + p]] : zero_of<T>();
  xp[(m * nb + blk) * BK + p] = v;
  RS a = p < n_a ? RS(v) : RS(0), b = p < n_a ? RS(0) : RS(v);
  for (int d = 16; d > 0; d /= 2) a += __shfl_xor_sync(0xffffffffu, a, d), b += __shfl_xor_sync(0xffffffffu, b, d);
  __shared__ RS part[2][BK / 32];
  if (p % 32 == 0) part[0][p / 32] = a, part[1][p / 32] = b;
  __syncthreads();
  if (p < 2) {
    RS s = RS(0);
    for (int i = 0; i < BK / 32; ++i) s += part[p][i];
    rsum[(m * nb + blk) * 2 + p] = s;
  }
}

// One warp per row: wsum[o] = sum over the row's weights, decoded as e2m_dequantize does.
__global__ void __launch_bounds__(128) row_sums_kernel(E2mDevice w, float* __restrict__ wsum) {
  const int64_t o = int64_t(blockIdx.x) * 4 + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (o >= w.oc) return;
  float acc = 0.f;
  for (int64_t blk = 0; blk < w.n_blocks; ++blk) {
    const int width = int(blk + 1 < w.n_blocks ? BK : w.ic - blk * BK), n_a = w.blocks[blk].n_a;
    const uint8_t* c0 = w.codes + o * w.row_bytes + w.blocks[blk].offset;
    const float* p = w.params + (o * w.n_blocks + blk) * kE2mParams;
    for (int pos = lane; pos < width; pos += 32) {
      const int q = pos / 8, j = pos % 8;
      const int a = int((word24(c0 + 3 * q) >> (3 * j)) & 7u), h = a >> 2;
      const float t0 = float((a & 3) - 1);
      if (pos < n_a) {
        const float t1 = float(int((word24(c0 + kE2mC0Bytes + 3 * q) >> (3 * j)) & 3u) - 1);
        acc += ((h ? p[1] : p[0]) + (h ? p[3] : p[2]) * t0) + (h ? p[5] : p[4]) * t1;
      } else {
        acc += (h ? p[7] : p[6]) + (h ? p[9] : p[8]) * t0;
      }
    }
  }
  for (int d = 16; d > 0; d /= 2) acc += __shfl_xor_sync(0xffffffffu, acc, d);
  if (lane == 0) wsum[o] = acc;
}

dim3 grid_for(const E2mDevice& w, int m) { return dim3(unsigned((w.oc + BN - 1) / BN), unsigned((m + BM - 1) / BM)); }

void check_m(int m, const char* who) {
  if (m < 1 || m > 65535 * BM)
    throw std::invalid_argument(std::string(who) + ": m=" + std::to_string(m) + " must be 1.." +
                                std::to_string(65535 * BM));
}

}  // namespace

void e2m_prep_i8(const E2mDevice& w, const int8_t* q, int m, int8_t* qp, int32_t* rsum, cudaStream_t s) {
  if (m < 1 || m > 65535) throw std::invalid_argument("e2m_prep_i8: m=" + std::to_string(m) + " must be 1..65535");
  prep_kernel<int8_t, int32_t><<<dim3(unsigned(w.n_blocks), unsigned(m)), BK, 0, s>>>(w, q, qp, rsum);
  check_cuda(cudaGetLastError(), "e2m_prep_i8 launch");
}

void e2m_prep_f16(const E2mDevice& w, const __half* x, int m, __half* xp, float* rsum, cudaStream_t s) {
  if (m < 1 || m > 65535) throw std::invalid_argument("e2m_prep_f16: m=" + std::to_string(m) + " must be 1..65535");
  prep_kernel<__half, float><<<dim3(unsigned(w.n_blocks), unsigned(m)), BK, 0, s>>>(w, x, xp, rsum);
  check_cuda(cudaGetLastError(), "e2m_prep_f16 launch");
}

void e2m_row_sums(const E2mDevice& w, float* wsum, cudaStream_t s) {
  row_sums_kernel<<<unsigned((w.oc + 3) / 4), 128, 0, s>>>(w, wsum);
  check_cuda(cudaGetLastError(), "e2m_row_sums launch");
}

void e2m_gemm_i8(const E2mDevice& w, const int8_t* qp, const int32_t* rsum, const float* scale, const float* zero,
                 const float* wsum, int m, float* y, cudaStream_t s) {
  check_m(m, "e2m_gemm_i8");
  gemm_kernel<int8_t, int32_t, true><<<grid_for(w, m), NT, 0, s>>>(w, qp, rsum, scale, zero, wsum, m, y);
  check_cuda(cudaGetLastError(), "e2m_gemm_i8 launch");
}

void e2m_gemm_f16(const E2mDevice& w, const __half* xp, const float* rsum, int m, float* y, cudaStream_t s) {
  check_m(m, "e2m_gemm_f16");
  gemm_kernel<__half, float, false><<<grid_for(w, m), NT, 0, s>>>(w, xp, rsum, nullptr, nullptr, nullptr, m, y);
  check_cuda(cudaGetLastError(), "e2m_gemm_f16 launch");
}

}  // namespace twla::kernels::cuda
