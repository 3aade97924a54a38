// kernels/cuda/e2m_cuda.h: the e2m CUDA kernels (host API). Buffers are device pointers; the
// weights are an e2m buffer (kernels/e2m.h layout) copied to the device as is.
// Not here: the CPU kernels and references (kernels/e2m_*.cpp) the tests compare against
// (kernels/cuda/standalone_main.cu).
//   permute: x half [batch, ic] -> xp half [batch, nb * 128] in each block's permuted column
//            order (e2m.h), zero in the pad; once per call, shared by every row.
//   gemv   : batch 1..8 tokens, xp -> fp32 y; CUDA cores, one warp per output row, each lane
//            decodes 8 weights (one 3-bit code word) to fp32 exactly as e2m_dequantize does.
//   prep   : prefill activations for the GEMMs (once per call): xp [m, nb * 128] as permute does,
//            plus rsum [m, nb, 2] = per-block sums of xp over A (p < n_a) and B (n_a <= p < width).
//   gemm_i8: prefill with int8 codes q (e.g. TWLA's 4-bit per-token asymmetric activations) on
//            int8 tensor cores, int32 accumulate per 128-column block and plane (e2m_gemm.cu):
//              y[m, n] = s[m] * (sum_blk [mu_A0 RA + mu_B0 RB + sum_P coef_P * sum_p q P] - z[m] * wsum[n])
//            with the 8 ternary planes P of the block's codes (A: [h=1], [h=0] t0, [h=1] t0,
//            [h=0] t1, [h=1] t1; B: [h=1], [h=0] t0, [h=1] t0; coefs mu_1 - mu_0 and the alphas)
//            = sum_k (q - z) s W (e2m.h). wsum [oc] (row sums of W) from e2m_row_sums, once per weight.
//   gemm_f16: the same planes on fp16 tensor cores with fp16 x (exact +-1 planes), fp32 accumulate.
// Errors: bad arguments throw std::invalid_argument; CUDA failures throw std::runtime_error.
#pragma once
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/e2m.h"

namespace twla::kernels::cuda {

// An e2m buffer on the device: the host view's shape with device section pointers.
struct E2mDevice {
  int64_t oc = 0, ic = 0, n_blocks = 0, row_bytes = 0;
  const E2mBlockInfo* blocks = nullptr;
  const uint8_t* perm = nullptr;
  const uint8_t* codes = nullptr;
  const float* params = nullptr;
};
// `dev` holds a byte-for-byte copy of the host buffer behind `host` (same section offsets).
E2mDevice e2m_device(const E2mView& host, const uint8_t* host_buf, const uint8_t* dev);

// x: half [batch, ic]; xp: half [batch, n_blocks * 128].
void e2m_permute_f16(const E2mDevice& w, const __half* x, int batch, __half* xp, cudaStream_t s = 0);
// xp: half [batch, n_blocks * 128] from e2m_permute_f16; y: float [batch, oc].
void e2m_gemv(const E2mDevice& w, const __half* xp, int batch, float* y, cudaStream_t s = 0);
// q: int8 [m, ic] -> qp int8 [m, nb * 128], rsum int32 [m, nb, 2]; m in 1..65535.
void e2m_prep_i8(const E2mDevice& w, const int8_t* q, int m, int8_t* qp, int32_t* rsum, cudaStream_t s = 0);
// x: half [m, ic] -> xp half [m, nb * 128], rsum float [m, nb, 2]; m in 1..65535.
void e2m_prep_f16(const E2mDevice& w, const __half* x, int m, __half* xp, float* rsum, cudaStream_t s = 0);
// wsum: float [oc], sum_k W[o, k] in fp32.
void e2m_row_sums(const E2mDevice& w, float* wsum, cudaStream_t s = 0);
// qp, rsum from e2m_prep_i8; scale, zero: float [m]; wsum from e2m_row_sums; y: float [m, oc].
void e2m_gemm_i8(const E2mDevice& w, const int8_t* qp, const int32_t* rsum, const float* scale, const float* zero,
                 const float* wsum, int m, float* y, cudaStream_t s = 0);
// xp, rsum from e2m_prep_f16; y: float [m, oc].
void e2m_gemm_f16(const E2mDevice& w, const __half* xp, const float* rsum, int m, float* y, cudaStream_t s = 0);

}  // namespace twla::kernels::cuda
