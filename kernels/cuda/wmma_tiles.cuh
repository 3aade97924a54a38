// kernels/cuda/wmma_tiles.cuh: what the tq2 and e2m prefill GEMMs share about their tensor-core
// tiles: the WMMA 16x16x16 fragment types per activation type (int8 codes with int32
// accumulation, or fp16 with fp32), and the K-slab layout of the shared-memory tiles.
#pragma once
#include <cuda_fp16.h>
#include <mma.h>

#include <cstdint>

namespace twla::kernels::cuda::tiles {
namespace wmma = nvcuda::wmma;

constexpr int KS = 16;  // WMMA k per slab

template <class T>
struct Frag;
template <>
struct Frag<int8_t> {
  using E = signed char;
  using Acc = int;
  using A = wmma::fragment<wmma::matrix_a, 16, 16, 16, signed char, wmma::row_major>;
  using B = wmma::fragment<wmma::matrix_b, 16, 16, 16, signed char, wmma::col_major>;
  using C = wmma::fragment<wmma::accumulator, 16, 16, 16, int>;
  __device__ static E code(int t) { return E(t); }
};
template <>
struct Frag<__half> {
  using E = __half;
  using Acc = float;
  using A = wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major>;
  using B = wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major>;
  using C = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;
  __device__ static E code(int t) { return __int2half_rn(t); }
};

// Shared tiles are stored in K slabs of 16: element (row r, k) at (k / 16) * rows * 16 + r * 16 + k % 16,
// so each 16x16 fragment is contiguous (ldm 16) and 256-bit aligned, as WMMA requires.
__device__ __forceinline__ int slab(int rows, int r, int k) { return (k / KS) * rows * KS + r * KS + k % KS; }

}  // namespace twla::kernels::cuda::tiles
