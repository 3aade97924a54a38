// kernels/cuda/tq2_gemv.cu: tq2 GEMV for decode (batch 1..8, fp16 x, fp32 y) on CUDA cores, the
// group-sum helpers the GEMMs need, and the device view of a tq2 buffer.
// One warp per output row; each lane reads one 32-bit word of codes per step (a warp reads 128
// contiguous bytes = 4 blocks), i.e. 4 bytes j0..j0+3 of a block, which are weights
// 128 blk + 32 s + j0 + (0..3) for s = 0..3: four 8-byte loads of x per token.
// Not here: the GEMMs (tq2_gemm.cu). Layout: kernels/tq2.h. Reference: tq2_gemm_f32_ref.
#include <stdexcept>
#include <string>

#include "kernels/cuda/tq2_cuda.h"
#include "kernels/cuda/tq2_cuda_check.h"

namespace twla::kernels::cuda {
namespace {

constexpr int kWarpsPerBlock = 4;

template <int NB>
__global__ void __launch_bounds__(32 * kWarpsPerBlock)
    gemv_kernel(Tq2Device w, const __half* __restrict__ x, float* __restrict__ y) {
  const int64_t o = int64_t(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (o >= w.oc) return;
  const uint32_t* row = reinterpret_cast<const uint32_t*>(w.codes + o * (w.ic_pad / 4));
  const int64_t nwords = w.ic_pad / 16, G = w.n_groups;
  const int64_t bpg = G == 1 ? w.ic_pad / kTq2Block : w.group_size / kTq2Block;
  float acc[NB];
#pragma unroll
  for (int b = 0; b < NB; ++b) acc[b] = 0.f;
  for (int64_t i = lane; i < nwords; i += 32) {
    const uint32_t v = __ldg(row + i);
    const int64_t blk = i / 8, j0 = (i % 8) * 4, g = blk / bpg;
    const float al = __ldg(w.alpha + o * G + g), mu = __ldg(w.mu + o * G + g);
    float tx[NB], sx[NB];
#pragma unroll
    for (int b = 0; b < NB; ++b) tx[b] = sx[b] = 0.f;
#pragma unroll
    for (int s = 0; s < 4; ++s) {
      const float t0 = float(int((v >> (2 * s)) & 3) - 1), t1 = float(int((v >> (8 + 2 * s)) & 3) - 1);
      const float t2 = float(int((v >> (16 + 2 * s)) & 3) - 1), t3 = float(int((v >> (24 + 2 * s)) & 3) - 1);
      const int64_t k = blk * kTq2Block + 32 * s + j0;
#pragma unroll
      for (int b = 0; b < NB; ++b) {
        const uint2 xv = __ldg(reinterpret_cast<const uint2*>(x + b * w.ic_pad + k));
        const float2 f01 = __half22float2(*reinterpret_cast<const __half2*>(&xv.x));
        const float2 f23 = __half22float2(*reinterpret_cast<const __half2*>(&xv.y));
        tx[b] += t0 * f01.x + t1 * f01.y + t2 * f23.x + t3 * f23.y;
        sx[b] += (f01.x + f01.y) + (f23.x + f23.y);
      }
    }
#pragma unroll
    for (int b = 0; b < NB; ++b) acc[b] += al * tx[b] + mu * sx[b];  // w = mu + alpha t
  }
#pragma unroll
  for (int b = 0; b < NB; ++b) {
    float a = acc[b];
    for (int d = 16; d > 0; d /= 2) a += __shfl_xor_sync(0xffffffffu, a, d);
    if (lane == 0) y[b * w.oc + o] = a;
  }
}

// One block per (row m, group g): sum of the group's columns of row m.
template <class T, class S>
__global__ void group_sums_kernel(Tq2Device w, const T* __restrict__ x, S* __restrict__ out) {
  const int64_t m = blockIdx.y, g = blockIdx.x;
  const int64_t k0 = g * w.group_size, k1 = min(w.ic, k0 + w.group_size);
  float fs = 0.f;
  int is = 0;
  for (int64_t k = k0 + threadIdx.x; k < k1; k += blockDim.x) {
    if constexpr (sizeof(T) == 1) is += int(x[m * w.ic_pad + k]);
    else fs += __half2float(x[m * w.ic_pad + k]);
  }
  __shared__ float fsh[32];
  __shared__ int ish[32];
  for (int d = 16; d > 0; d /= 2) fs += __shfl_xor_sync(0xffffffffu, fs, d), is += __shfl_xor_sync(0xffffffffu, is, d);
  if (threadIdx.x % 32 == 0) fsh[threadIdx.x / 32] = fs, ish[threadIdx.x / 32] = is;
  __syncthreads();
  if (threadIdx.x == 0) {
    float f = 0.f;
    int s = 0;
    for (int i = 0; i < int(blockDim.x / 32); ++i) f += fsh[i], s += ish[i];
    if constexpr (sizeof(T) == 1) out[m * w.n_groups + g] = S(s);
    else out[m * w.n_groups + g] = S(f);
  }
}

}  // namespace

void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(e));
}

Tq2Device tq2_device(const Tq2View& h, const uint8_t* host_buf, const uint8_t* dev) {
  if (!dev || !host_buf) throw std::invalid_argument("tq2_device: null buffer");
  auto at = [&](const void* p) { return dev + (static_cast<const uint8_t*>(p) - host_buf); };
  Tq2Device d;
  d.oc = h.oc, d.ic = h.ic, d.ic_pad = h.ic_pad, d.group_size = h.group_size, d.n_groups = h.n_groups;
  d.codes = at(h.codes);
  d.alpha = reinterpret_cast<const float*>(at(h.alpha));
  d.mu = reinterpret_cast<const float*>(at(h.mu));
  d.wsum = reinterpret_cast<const float*>(at(h.wsum));
  return d;
}

void tq2_gemv(const Tq2Device& w, const __half* x, int batch, float* y, cudaStream_t s) {
  if (batch < 1 || batch > 8)
    throw std::invalid_argument("tq2_gemv: batch=" + std::to_string(batch) + " must be 1..8; use tq2_gemm_f16 for more");
  dim3 grid(unsigned((w.oc + kWarpsPerBlock - 1) / kWarpsPerBlock)), block(32 * kWarpsPerBlock);
  switch (batch) {
    case 1: gemv_kernel<1><<<grid, block, 0, s>>>(w, x, y); break;
    case 2: gemv_kernel<2><<<grid, block, 0, s>>>(w, x, y); break;
    case 3: gemv_kernel<3><<<grid, block, 0, s>>>(w, x, y); break;
    case 4: gemv_kernel<4><<<grid, block, 0, s>>>(w, x, y); break;
    case 5: gemv_kernel<5><<<grid, block, 0, s>>>(w, x, y); break;
    case 6: gemv_kernel<6><<<grid, block, 0, s>>>(w, x, y); break;
    case 7: gemv_kernel<7><<<grid, block, 0, s>>>(w, x, y); break;
    default: gemv_kernel<8><<<grid, block, 0, s>>>(w, x, y); break;
  }
  check_cuda(cudaGetLastError(), "tq2_gemv launch");
}

void tq2_group_sums_i8(const Tq2Device& w, const int8_t* q, int m, int32_t* qsum, cudaStream_t s) {
  if (m < 1) throw std::invalid_argument("tq2_group_sums_i8: m must be >= 1");
  group_sums_kernel<int8_t, int32_t><<<dim3(unsigned(w.n_groups), unsigned(m)), 256, 0, s>>>(w, q, qsum);
  check_cuda(cudaGetLastError(), "tq2_group_sums_i8 launch");
}

void tq2_group_sums_f16(const Tq2Device& w, const __half* x, int m, float* xsum, cudaStream_t s) {
  if (m < 1) throw std::invalid_argument("tq2_group_sums_f16: m must be >= 1");
  group_sums_kernel<__half, float><<<dim3(unsigned(w.n_groups), unsigned(m)), 256, 0, s>>>(w, x, xsum);
  check_cuda(cudaGetLastError(), "tq2_group_sums_f16 launch");
}

}  // namespace twla::kernels::cuda
