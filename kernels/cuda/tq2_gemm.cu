// kernels/cuda/tq2_gemm.cu: tq2 GEMMs for prefill on tensor cores (WMMA 16x16x16): int8 codes x
// ternary (int32 accumulate) and fp16 x ternary (fp32 accumulate); both decode a 128-column
// tq2 block of 64 rows into shared memory per K step and apply alpha/mu per group in fp32.
// Not here: GEMV (tq2_gemv.cu). Math and argument layout: tq2_cuda.h. A first, simple tiling
// (64x64x128, 4 warps, no pipelining): correctness first, then speed against cuBLAS.
#include <mma.h>

#include <stdexcept>
#include <string>

#include "kernels/cuda/tq2_cuda.h"
#include "kernels/cuda/tq2_cuda_check.h"
#include "kernels/cuda/wmma_tiles.cuh"

namespace twla::kernels::cuda {
namespace {
namespace wmma = nvcuda::wmma;

constexpr int BM = 64, BN = 64, BK = 128, NT = 128, KS = 16;  // KS: WMMA k per slab

using tiles::Frag;
using tiles::slab;
static_assert(KS == tiles::KS, "the tiles' K slab is the WMMA k");


// I8: y = s (facc - z wsum); else y = facc. gsum: int32 qsum (I8) or float xsum, [M, G].
template <class T, class GS, bool I8>
__global__ void __launch_bounds__(NT) gemm_kernel(Tq2Device w, const T* __restrict__ x, const float* __restrict__ scale,
                                                  const float* __restrict__ zero, const GS* __restrict__ gsum, int M,
                                                  float* __restrict__ y) {
  using F = Frag<T>;
  using E = typename F::E;
  __shared__ __align__(128) E As[BM * BK];
  __shared__ __align__(128) E Bs[BN * BK];
  __shared__ __align__(128) typename F::Acc Cs[BM * BN];
  const int tid = threadIdx.x, warp = tid / 32, wm = warp / 2, wn = warp % 2;
  const int64_t m0 = int64_t(blockIdx.y) * BM, n0 = int64_t(blockIdx.x) * BN;
  const int64_t nblk = w.ic_pad / BK, G = w.n_groups, bpg = G == 1 ? nblk : w.group_size / BK;
  typename F::C c[2][2];
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j) wmma::fill_fragment(c[i][j], typename F::Acc(0));
  constexpr int kPer = BM * BN / NT;
  float facc[kPer];
#pragma unroll
  for (int e = 0; e < kPer; ++e) facc[e] = 0.f;

  for (int64_t blk = 0; blk < nblk; ++blk) {
    // A tile: BM rows x BK elements from x (row stride ic_pad), 16-byte chunks; rows >= M are zero.
    constexpr int kChunk = 16 / sizeof(E), kPerRow = BK / kChunk;
    for (int i = tid; i < BM * kPerRow; i += NT) {
      const int r = i / kPerRow, k = (i % kPerRow) * kChunk;
      uint4 v = make_uint4(0, 0, 0, 0);
      if (m0 + r < M) v = __ldg(reinterpret_cast<const uint4*>(x + (m0 + r) * w.ic_pad + blk * BK + k));
      *reinterpret_cast<uint4*>(&As[slab(BM, r, k)]) = v;
    }
    // B tile: BN rows x 32 code bytes; thread tid decodes 16 bytes of row tid / 2. Rows >= oc are t = 0.
    {
      const int r = tid / 2, h = tid % 2;
      uint4 v = make_uint4(0x55555555u, 0x55555555u, 0x55555555u, 0x55555555u);
      if (n0 + r < w.oc) v = __ldg(reinterpret_cast<const uint4*>(w.codes + (n0 + r) * (w.ic_pad / 4) + blk * 32 + h * 16));
      const uint32_t words[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
      for (int j = 0; j < 16; ++j) {
        const uint32_t by = (words[j / 4] >> (8 * (j % 4))) & 0xffu;
#pragma unroll
        for (int s = 0; s < 4; ++s) Bs[slab(BN, r, 32 * s + h * 16 + j)] = F::code(int((by >> (2 * s)) & 3u) - 1);
      }
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < BK; kk += KS) {
      typename F::A a[2];
      typename F::B b[2];
#pragma unroll
      for (int i = 0; i < 2; ++i) wmma::load_matrix_sync(a[i], &As[slab(BM, wm * 32 + i * 16, kk)], KS);
#pragma unroll
      for (int j = 0; j < 2; ++j) wmma::load_matrix_sync(b[j], &Bs[slab(BN, wn * 32 + j * 16, kk)], KS);
#pragma unroll
      for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j) wmma::mma_sync(c[i][j], a[i], b[j], c[i][j]);
    }
    __syncthreads();
    if ((blk + 1) % bpg == 0) {  // end of group g: facc += alpha * (sum x t) + mu * (sum x)
      const int64_t g = blk / bpg;
#pragma unroll
      for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j) {
          wmma::store_matrix_sync(&Cs[(wm * 32 + i * 16) * BN + wn * 32 + j * 16], c[i][j], BN, wmma::mem_row_major);
          wmma::fill_fragment(c[i][j], typename F::Acc(0));
        }
      __syncthreads();
#pragma unroll
      for (int e = 0; e < kPer; ++e) {
        const int idx = tid + e * NT, r = idx / BN, cn = idx % BN;
        const int64_t m = m0 + r, n = n0 + cn;
        if (m < M && n < w.oc)
          facc[e] += __ldg(w.alpha + n * G + g) * float(Cs[idx]) + __ldg(w.mu + n * G + g) * float(gsum[m * G + g]);
      }
      __syncthreads();
    }
  }
#pragma unroll
  for (int e = 0; e < kPer; ++e) {
    const int idx = tid + e * NT, r = idx / BN, cn = idx % BN;
    const int64_t m = m0 + r, n = n0 + cn;
    if (m < M && n < w.oc) y[m * w.oc + n] = I8 ? scale[m] * (facc[e] - zero[m] * __ldg(w.wsum + n)) : facc[e];
  }
}

dim3 grid_for(const Tq2Device& w, int m) {
  return dim3(unsigned((w.oc + BN - 1) / BN), unsigned((m + BM - 1) / BM));
}

void check_args(const Tq2Device& w, int m, const char* who) {
  if (m < 1) throw std::invalid_argument(std::string(who) + ": m=" + std::to_string(m) + " must be >= 1");
  if (w.n_groups > 1 && w.group_size % BK != 0)
    throw std::invalid_argument(std::string(who) + ": group_size must be a multiple of 128 or the whole row");
}

}  // namespace

void tq2_gemm_i8(const Tq2Device& w, const int8_t* q, const float* scale, const float* zero, const int32_t* qsum, int m,
                 float* y, cudaStream_t s) {
  check_args(w, m, "tq2_gemm_i8");
  gemm_kernel<int8_t, int32_t, true><<<grid_for(w, m), NT, 0, s>>>(w, q, scale, zero, qsum, m, y);
  check_cuda(cudaGetLastError(), "tq2_gemm_i8 launch");
}

void tq2_gemm_f16(const Tq2Device& w, const __half* x, const float* xsum, int m, float* y, cudaStream_t s) {
  check_args(w, m, "tq2_gemm_f16");
  gemm_kernel<__half, float, false><<<grid_for(w, m), NT, 0, s>>>(w, x, nullptr, nullptr, xsum, m, y);
  check_cuda(cudaGetLastError(), "tq2_gemm_f16 launch");
}

}  // namespace twla::kernels::cuda
