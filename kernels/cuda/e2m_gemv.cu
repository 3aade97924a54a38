// kernels/cuda/e2m_gemv.cu: e2m GEMV for decode (batch 1..8, fp16 x, fp32 y) on CUDA cores, the
// activation permutation it needs, and the device view of an e2m buffer.
// One warp per output row; per step the warp covers two 128-column blocks: lane l takes block
// 2 step + l / 16 and its 8 positions 8 (l % 16) .. + 7: one 24-bit code word (plus the second
// plane's word in the salient positions), the row-block's 10 params (broadcast loads), and one
// 16-byte load of fp16 x per token.
// Not here: the CPU kernels (kernels/e2m_cpu.cpp). Layout: kernels/e2m.h. Reference:
// e2m_gemm_f32_ref.
#include <stdexcept>
#include <string>

#include "kernels/cuda/e2m_cuda.h"
#include "kernels/cuda/tq2_cuda_check.h"

namespace twla::kernels::cuda {
namespace {

constexpr int kWarpsPerBlock = 4;

__device__ __forceinline__ uint32_t word24(const uint8_t* p) {
  return uint32_t(__ldg(p)) | (uint32_t(__ldg(p + 1)) << 8) | (uint32_t(__ldg(p + 2)) << 16);
}

template <int NB>
__global__ void __launch_bounds__(32 * kWarpsPerBlock)
    gemv_kernel(E2mDevice w, const __half* __restrict__ xp, float* __restrict__ y) {
  const int64_t o = int64_t(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (o >= w.oc) return;
  const uint8_t* row = w.codes + o * w.row_bytes;
  const int64_t stride = w.n_blocks * kE2mBlock;
  const int i = lane % 16;
  float acc[NB];
#pragma unroll
  for (int b = 0; b < NB; ++b) acc[b] = 0.f;
  for (int64_t blk = lane / 16; blk < w.n_blocks; blk += 2) {
    const int width = int(blk + 1 < w.n_blocks ? kE2mBlock : w.ic - blk * kE2mBlock);
    if (8 * i >= width) continue;
    const E2mBlockInfo bi = w.blocks[blk];
    const uint8_t* c0 = row + bi.offset;
    const float* P = w.params + (o * w.n_blocks + blk) * kE2mParams;
    float p[kE2mParams];
#pragma unroll
    for (int k = 0; k < kE2mParams; ++k) p[k] = __ldg(P + k);
    const uint32_t v0 = word24(c0 + 3 * i);
    const uint32_t v1 = 8 * i < bi.n_a ? word24(c0 + kE2mC0Bytes + 3 * i) : 0x249249u;  // c1 = 1: t1 = 0
    float wv[8];
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      const int a = (v0 >> (3 * j)) & 7, h = a >> 2;
      const float t0 = float((a & 3) - 1);
      if (8 * i + j < bi.n_a) {  // (alpha * t is exact, so a contracted FMA rounds the same)
        const float t1 = float(int((v1 >> (3 * j)) & 3) - 1);
        wv[j] = ((h ? p[1] : p[0]) + (h ? p[3] : p[2]) * t0) + (h ? p[5] : p[4]) * t1;  // e2m_dequantize's ops
      } else {
        wv[j] = (h ? p[7] : p[6]) + (h ? p[9] : p[8]) * t0;
      }
    }
#pragma unroll
    for (int b = 0; b < NB; ++b) {
      const uint4 xv = __ldg(reinterpret_cast<const uint4*>(xp + b * stride + blk * kE2mBlock + 8 * i));
      const __half2* x2 = reinterpret_cast<const __half2*>(&xv);
      float s = 0.f;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const float2 f = __half22float2(x2[j]);
        s += wv[2 * j] * f.x + wv[2 * j + 1] * f.y;
      }
      acc[b] += s;
    }
  }
#pragma unroll
  for (int b = 0; b < NB; ++b) {
    float a = acc[b];
    for (int d = 16; d > 0; d /= 2) a += __shfl_xor_sync(0xffffffffu, a, d);
    if (lane == 0) y[b * w.oc + o] = a;
  }
}

// One thread per permuted position of one token.
__global__ void permute_kernel(E2mDevice w, const __half* __restrict__ x, __half* __restrict__ xp) {
  const int64_t b = blockIdx.y, pos = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (pos >= w.n_blocks * kE2mBlock) return;
  const int64_t blk = pos / kE2mBlock, p = pos % kE2mBlock;
  const int64_t width = blk + 1 < w.n_blocks ? kE2mBlock : w.ic - blk * kE2mBlock;
  xp[b * w.n_blocks * kE2mBlock + pos] =
      p < width ? x[b * w.ic + blk * kE2mBlock + w.perm[blk * kE2mBlock + p]] : __float2half(0.f);
}

}  // namespace

E2mDevice e2m_device(const E2mView& h, const uint8_t* host_buf, const uint8_t* dev) {
  if (!dev || !host_buf) throw std::invalid_argument("e2m_device: null buffer");
  auto at = [&](const void* p) { return dev + (static_cast<const uint8_t*>(p) - host_buf); };
  E2mDevice d;
  d.oc = h.oc, d.ic = h.ic, d.n_blocks = h.n_blocks, d.row_bytes = h.row_bytes;
  d.blocks = reinterpret_cast<const E2mBlockInfo*>(at(h.blocks));
  d.perm = at(h.perm);
  d.codes = at(h.codes);
  d.params = reinterpret_cast<const float*>(at(h.params));
  return d;
}

void e2m_permute_f16(const E2mDevice& w, const __half* x, int batch, __half* xp, cudaStream_t s) {
  if (batch < 1) throw std::invalid_argument("e2m_permute_f16: batch must be >= 1");
  const int64_t n = w.n_blocks * kE2mBlock;
  permute_kernel<<<dim3(unsigned((n + 255) / 256), unsigned(batch)), 256, 0, s>>>(w, x, xp);
  check_cuda(cudaGetLastError(), "e2m_permute_f16 launch");
}

void e2m_gemv(const E2mDevice& w, const __half* xp, int batch, float* y, cudaStream_t s) {
  if (batch < 1 || batch > 8)
    throw std::invalid_argument("e2m_gemv: batch=" + std::to_string(batch) + " must be 1..8");
  dim3 grid(unsigned((w.oc + kWarpsPerBlock - 1) / kWarpsPerBlock)), block(32 * kWarpsPerBlock);
  switch (batch) {
    case 1: gemv_kernel<1><<<grid, block, 0, s>>>(w, xp, y); break;
    case 2: gemv_kernel<2><<<grid, block, 0, s>>>(w, xp, y); break;
    case 3: gemv_kernel<3><<<grid, block, 0, s>>>(w, xp, y); break;
    case 4: gemv_kernel<4><<<grid, block, 0, s>>>(w, xp, y); break;
    case 5: gemv_kernel<5><<<grid, block, 0, s>>>(w, xp, y); break;
    case 6: gemv_kernel<6><<<grid, block, 0, s>>>(w, xp, y); break;
    case 7: gemv_kernel<7><<<grid, block, 0, s>>>(w, xp, y); break;
    default: gemv_kernel<8><<<grid, block, 0, s>>>(w, xp, y); break;
  }
  check_cuda(cudaGetLastError(), "e2m_gemv launch");
}

}  // namespace twla::kernels::cuda
