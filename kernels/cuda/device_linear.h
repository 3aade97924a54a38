// kernels/cuda/device_linear.h: one packed linear (a tq2 or e2m buffer) resident on the CUDA
// device, called with host arrays: what model execution (`backend: kernel-cuda`,
// experiments/kernel_ops.h) needs from the CUDA kernels. Plain C++ header (no CUDA includes), so
// libtorch code can include it; device_linear.cu implements it where nvcc was found,
// device_linear_none.cpp (every call says why not) where it was not.
// Not here: the kernels themselves (tq2_cuda.h, e2m_cuda.h) and their checks (tq2_cuda_check).
//
// Which kernel runs (n = tokens in the call):
//   gemm_act (per-token asymmetric codes q < 256, integer zero points; TWLA's A4/A8):
//     n <= 8 : GEMV with fp16 x = q - zero (integers, exact in fp16 while |q - zero| <= 2048;
//              otherwise the GEMM below), then y *= scale per token;
//     n > 8  : the int8 tensor-core GEMM (codes shifted by -128 when one is above 127, the zero
//              point with them), scale and zero point in its epilogue.
//   gemm_f32 (16-bit activations): fp16 x (rounded once; |x| must stay below 65504), GEMV for
//     n <= 8, the fp16 tensor-core GEMM above.
// So the integer path computes exactly what the CPU kernels compute (integer dot products, fp32
// epilogue in another order); the fp16 path rounds each activation to fp16 once.
// Errors: std::runtime_error (no device, CUDA failure; the message says which), std::range_error
// (an fp16 activation out of range), std::invalid_argument (a bad buffer, from tq2_view/e2m_view).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace twla::kernels::cuda {

// "" when this build has the CUDA kernels and a device of compute capability >= 8.0 is usable;
// otherwise one sentence saying why not (built without nvcc, no device, driver, old card).
std::string device_status();

class DeviceLinear {
 public:
  virtual ~DeviceLinear() = default;
  virtual int64_t oc() const = 0;
  virtual int64_t ic() const = 0;
  // Bytes held on the device for this weight (the packed buffer and its row sums).
  virtual size_t device_bytes() const = 0;
  // x [n, ic] fp32 (host) -> y [n, oc] fp32 (host), through fp16 activations.
  virtual void gemm_f32(const float* x, int n, float* y) const = 0;
  // y [n, oc] = scale * ((q - zero) W^T); q [n, ic] codes, scale and zero [n] (host).
  virtual void gemm_act(const uint8_t* q, const float* scale, const float* zero, int n, float* y) const = 0;
};

// Copies a validated host buffer of `format` ("tq2" or "e2m") to the device. Throws
// std::runtime_error with device_status()'s sentence when no device can run it.
std::unique_ptr<DeviceLinear> make_device_linear(const std::string& format, const uint8_t* buf, size_t n);

}  // namespace twla::kernels::cuda
