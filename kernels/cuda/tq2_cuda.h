// kernels/cuda/tq2_cuda.h: the tq2 CUDA kernels (host API). Buffers are device pointers; the
// weights are a tq2 buffer (kernels/tq2.h layout) copied to the device as is.
// Not here: the CPU kernels and references (kernels/tq2_*.cpp) the tests compare against
// (kernels/cuda/standalone_main.cu).
//
// Activations are passed zero-padded to ic_pad columns (row stride ic_pad), so every row is
// 16-byte aligned and the pad (codes t = 0, but w = mu there) contributes nothing.
//   gemv  : batch 1..8 tokens, fp16 x -> fp32 y; CUDA cores, one warp per output row.
//   gemm  : prefill; int8 codes q (e.g. TWLA's 4-bit per-token asymmetric activations, or
//           8-bit codes shifted by -128) on int8 tensor cores (WMMA, int32 accumulate per group):
//             y[m, n] = s[m] * (sum_g alpha[n,g] * sum_k q t + sum_g mu[n,g] * Q[m,g] - z[m] * wsum[n])
//           which is sum_k (q - z) s (mu + alpha t) (tq2.h), with Q[m, g] = sum of q over group g.
//   gemm_f16: prefill with fp16 x on fp16 tensor cores (t is exact in fp16), fp32 accumulate per
//           group: y = sum_g alpha * sum_k x t + mu * X[m, g], X = sum of x over group g.
// Errors: bad arguments throw std::invalid_argument; CUDA failures throw std::runtime_error.
#pragma once
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/tq2.h"

namespace twla::kernels::cuda {

// A tq2 buffer on the device: the host view's shape with device section pointers.
struct Tq2Device {
  int64_t oc = 0, ic = 0, ic_pad = 0, group_size = 0, n_groups = 0;
  const uint8_t* codes = nullptr;
  const float *alpha = nullptr, *mu = nullptr, *wsum = nullptr;
};
// `dev` holds a byte-for-byte copy of the host buffer behind `host` (same section offsets).
Tq2Device tq2_device(const Tq2View& host, const uint8_t* host_buf, const uint8_t* dev);

// x: half [batch, ic_pad], y: float [batch, oc].
void tq2_gemv(const Tq2Device& w, const __half* x, int batch, float* y, cudaStream_t s = 0);
// q: int8 [m, ic_pad]; scale, zero: float [m]; qsum: int32 [m, G]; y: float [m, oc].
void tq2_gemm_i8(const Tq2Device& w, const int8_t* q, const float* scale, const float* zero,
                 const int32_t* qsum, int m, float* y, cudaStream_t s = 0);
// x: half [m, ic_pad]; xsum: float [m, G]; y: float [m, oc].
void tq2_gemm_f16(const Tq2Device& w, const __half* x, const float* xsum, int m, float* y, cudaStream_t s = 0);
// Group sums for the two GEMMs: qsum[m, g] = sum q, xsum[m, g] = sum x (pads are zero).
void tq2_group_sums_i8(const Tq2Device& w, const int8_t* q, int m, int32_t* qsum, cudaStream_t s = 0);
void tq2_group_sums_f16(const Tq2Device& w, const __half* x, int m, float* xsum, cudaStream_t s = 0);

}  // namespace twla::kernels::cuda
