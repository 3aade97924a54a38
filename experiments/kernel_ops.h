// experiments/kernel_ops.h: the packed-kernel backend (descriptor `backend: kernel`): linears whose
// quantized weights have a kernel format run on it instead of a dequantized fp32 matmul.
//   x -> rotation.input -> activation codes (per-token asymmetric, the block's bits and the
//   linear's clip: exactly the fake-quant grid, QuantLinearOps::act_spec) -> the format's
//   integer-activation GEMM (scales and zero points applied after); with 16-bit activations the
//   fp32-activation GEMM.
// Kernel formats: tq2 (kernels/tq2.h) from format "ternary" (ternary-absmean, ternary-threshold);
// e2m (kernels/e2m.h) from format "e2m" (e2m-atq; gptq with ternary: true when its groups are
// whole rows or multiples of 128 columns, or act-order groups with at most two per 128 columns,
// quantizers/e2m_convert.h e2m_kernel_blocks). Others (uniform, dense) run dequantized, and
// kernel_linears() / fallback_linears() say which ran where, so a run never claims kernels it
// did not use.
// Device: kCpu runs the CPU kernels (kernels/tq2.h, e2m.h; exact integer dot products), kCuda the
// CUDA ones through kernels/cuda/device_linear.h (`backend: kernel-cuda`): the packed weights are
// copied to the GPU once, activations (codes, or fp16 at 16 bits) go up and outputs come back per
// call; constructing it without a usable device is an error that says why.
// Not here: the fake-quant backend (quant_ops.h), the kernels (kernels/).
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/model.h"
#include "kernels/cuda/device_linear.h"
#include "experiments/quant_ops.h"

namespace twla {

enum class KernelDevice { kCpu, kCuda };

class KernelLinearOps : public LinearOps {
 public:
  // Packs every overridden linear of `model` whose format has a kernel (and, for kCuda, copies it
  // to the device).
  KernelLinearOps(const Model& model, const Rotation* rotation, Allocation alloc,
                  double default_clip, bool compat_reference, int threads,
                  KernelDevice device = KernelDevice::kCpu);
  Tensor linear(const std::string& name, const Tensor& x, const Tensor& W) const override;
  std::vector<std::string> kernel_linears() const;
  std::vector<std::string> fallback_linears() const { return fallback_; }
  // Kernel format ("tq2", "e2m") -> how many linears run on it.
  std::map<std::string, int> format_counts() const;
  // "35 tq2, 0 dequantized" (CUDA: "35 tq2 (cuda), 0 dequantized"): the run's backend label.
  std::string summary() const;
  // Bytes of packed weights the kernels hold.
  int64_t packed_bytes() const;

 private:
  struct Packed {
    std::string format;  // "tq2" or "e2m"
    std::vector<uint8_t> bytes;
    std::shared_ptr<const kernels::cuda::DeviceLinear> device;  // kCuda: the copy on the GPU
  };
  QuantLinearOps fake_;   // the fallback, and the source of the activation grid's settings
  const Rotation* rot_;
  int threads_;
  std::map<std::string, Packed> packed_;
  std::vector<std::string> fallback_;
};

}  // namespace twla
