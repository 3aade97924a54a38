// kernels/cuda/e2m_cuda.h: the e2m CUDA kernels (host API). Buffers are device pointers; the
// weights are an e2m buffer (kernels/e2m.h layout) copied to the device as is.
// Not here: the CPU kernels and references (kernels/e2m_*.cpp) the tests compare against
// (kernels/cuda/standalone_main.cu).
//   permute: x half [batch, ic] -> xp half [batch, nb * 128] in each block's permuted column
//            order (e2m.h), zero in the pad; once per call, shared by every row.
//   gemv   : batch 1..8 tokens, xp -> fp32 y; CUDA cores, one warp per output row, each lane
//            decodes 8 weights (one 3-bit code word) to fp32 exactly as e2m_dequantize does.
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

}  // namespace twla::kernels::cuda
