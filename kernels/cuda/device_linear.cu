// kernels/cuda/device_linear.cu: device_linear.h on the tq2/e2m CUDA kernels. The packed buffer
// (and, for e2m, its row sums) stays on the device; activations go up and outputs come back per
// call through one set of grow-only device buffers (the linears of a model run one at a time).
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cuda/device_linear.h"
#include "kernels/cuda/e2m_cuda.h"
#include "kernels/cuda/tq2_cuda.h"
#include "kernels/cuda/tq2_cuda_check.h"

namespace twla::kernels::cuda {
namespace {

constexpr int kGemvMax = 8;          // tq2_gemv / e2m_gemv take 1..8 tokens
constexpr float kHalfMax = 65504.f;  // largest finite fp16
constexpr float kExactZero = 1792.f; // |q - zero| <= 255 + 1792 < 2048: integers exact in fp16

// A device array that grows on demand and is never shrunk.
struct Grow {
  void* p = nullptr;
  size_t bytes = 0;
  template <class T>
  T* get(size_t count) {
    const size_t want = std::max<size_t>(1, count) * sizeof(T);
    if (want > bytes) {
      if (p) cudaFree(p);
      p = nullptr, bytes = 0;
      TQ2_CUDA(cudaMalloc(&p, want));
      bytes = want;
    }
    return static_cast<T*>(p);
  }
};
struct Scratch {
  std::mutex mu;
  Grow x, xp, sums, scale, zero, y;
};
// Never destroyed: freeing device memory after the CUDA runtime's own teardown is an error.
Scratch& scratch() {
  static Scratch* s = new Scratch;
  return *s;
}

template <class T>
void upload(T* dst, const T* src, size_t count) {
  TQ2_CUDA(cudaMemcpy(dst, src, count * sizeof(T), cudaMemcpyHostToDevice));
}
void download(float* dst, const float* src, size_t count) {
  TQ2_CUDA(cudaMemcpy(dst, src, count * sizeof(float), cudaMemcpyDeviceToHost));
}

// x [n, ic] -> fp16 rows of `stride` columns, zero in the pad.
std::vector<__half> to_half(const float* x, int n, int64_t ic, int64_t stride) {
  std::vector<__half> h(size_t(n) * stride, __float2half(0.f));
  for (int b = 0; b < n; ++b)
    for (int64_t k = 0; k < ic; ++k) {
      const float v = x[b * ic + k];
      if (!(std::fabs(v) <= kHalfMax))
        throw std::range_error("activation " + std::to_string(v) + " (token " + std::to_string(b) + ", column " +
                               std::to_string(k) + ") does not fit fp16 (|x| <= 65504): run 16-bit activations "
                               "on backend: kernel (CPU, fp32), or quantize the activations to 8 bits or fewer");
      h[b * stride + k] = __float2half(v);
    }
  return h;
}

// The GEMV path takes q - zero in fp16: exact when every zero point is an integer of |z| <= 1792.
bool gemv_exact(const float* zero, int n) {
  if (n > kGemvMax) return false;
  for (int b = 0; b < n; ++b)
    if (!(std::fabs(zero[b]) <= kExactZero) || zero[b] != std::nearbyint(zero[b])) return false;
  return true;
}

// (q - zero) [n, ic] in fp16 rows of `stride` (zero pad).
std::vector<__half> offsets_half(const uint8_t* q, const float* zero, int n, int64_t ic, int64_t stride) {
  std::vector<__half> h(size_t(n) * stride, __float2half(0.f));
  for (int b = 0; b < n; ++b)
    for (int64_t k = 0; k < ic; ++k) h[b * stride + k] = __float2half(float(q[b * ic + k]) - zero[b]);
  return h;
}

// Codes as int8 rows of `stride` (zero pad), shifted by -128 when one is above 127 (A8); the
// zero points move with them so (q - zero) is unchanged. Returns the shift.
int codes_i8(const uint8_t* q, int n, int64_t ic, int64_t stride, std::vector<int8_t>* out) {
  const size_t all = size_t(n) * ic;
  const int shift = std::any_of(q, q + all, [](uint8_t c) { return c > 127; }) ? 128 : 0;
  out->assign(size_t(n) * stride, 0);
  for (int b = 0; b < n; ++b)
    for (int64_t k = 0; k < ic; ++k) (*out)[b * stride + k] = int8_t(int(q[b * ic + k]) - shift);
  return shift;
}

// The int8 GEMMs' device inputs (in the scratch buffers; the caller holds the scratch lock).
struct I8Inputs {
  int8_t* q;
  float *scale, *zero, *y;
};
I8Inputs upload_i8(Scratch& s, const uint8_t* q, const float* scale, const float* zero, int n, int64_t ic,
                   int64_t stride, int64_t oc) {
  std::vector<int8_t> qi;
  const int shift = codes_i8(q, n, ic, stride, &qi);
  std::vector<float> z(zero, zero + n);
  for (float& v : z) v -= float(shift);
  I8Inputs d{s.x.get<int8_t>(qi.size()), s.scale.get<float>(n), s.zero.get<float>(n), s.y.get<float>(size_t(n) * oc)};
  upload(d.q, qi.data(), qi.size()), upload(d.scale, scale, n), upload(d.zero, z.data(), n);
  return d;
}

void scale_rows(float* y, const float* scale, int n, int64_t oc) {
  for (int b = 0; b < n; ++b)
    for (int64_t o = 0; o < oc; ++o) y[b * oc + o] *= scale[b];
}

// The packed buffer on the device.
struct DeviceBuffer {
  uint8_t* p = nullptr;
  size_t n = 0;
  DeviceBuffer(const uint8_t* host, size_t bytes) : n(bytes) {
    TQ2_CUDA(cudaMalloc(&p, std::max<size_t>(1, n)));
    upload(p, host, n);
  }
  ~DeviceBuffer() { cudaFree(p); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
};

// What both formats share: fp32 activations as fp16 to F::run_f16 (GEMV or fp16 GEMM); codes to
// the GEMV on q - zero where that is exact, else uploaded as int8 (under the scratch lock) to
// F::run_i8. F gives stride() (the row length of its activations) and the two runs.
template <class F>
class Linear : public DeviceLinear {
 public:
  void gemm_f32(const float* x, int n, float* y) const override { self().run_f16(to_half(x, n, ic(), self().stride()), n, y); }

  void gemm_act(const uint8_t* q, const float* scale, const float* zero, int n, float* y) const override {
    if (gemv_exact(zero, n)) {
      self().run_f16(offsets_half(q, zero, n, ic(), self().stride()), n, y);
      scale_rows(y, scale, n, oc());
      return;
    }
    Scratch& s = scratch();
    std::lock_guard<std::mutex> lock(s.mu);
    const I8Inputs d = upload_i8(s, q, scale, zero, n, ic(), self().stride(), oc());
    self().run_i8(s, d, n);
    download(y, d.y, size_t(n) * oc());
  }

 private:
  const F& self() const { return static_cast<const F&>(*this); }
};

class Tq2Linear final : public Linear<Tq2Linear> {
 public:
  Tq2Linear(const uint8_t* buf, size_t n) : dev_(buf, n) { w_ = tq2_device(tq2_view(buf, n), buf, dev_.p); }
  int64_t oc() const override { return w_.oc; }
  int64_t ic() const override { return w_.ic; }
  size_t device_bytes() const override { return dev_.n; }
  int64_t stride() const { return w_.ic_pad; }

  // fp16 x [n, ic_pad]: GEMV for n <= 8, else the fp16 GEMM.
  void run_f16(const std::vector<__half>& h, int n, float* y) const {
    Scratch& s = scratch();
    std::lock_guard<std::mutex> lock(s.mu);
    __half* dx = s.x.get<__half>(h.size());
    float* dy = s.y.get<float>(size_t(n) * w_.oc);
    upload(dx, h.data(), h.size());
    if (n <= kGemvMax) {
      tq2_gemv(w_, dx, n, dy);
    } else {
      float* dxs = s.sums.get<float>(size_t(n) * w_.n_groups);
      tq2_group_sums_f16(w_, dx, n, dxs);
      tq2_gemm_f16(w_, dx, dxs, n, dy);
    }
    download(y, dy, size_t(n) * w_.oc);
  }
  void run_i8(Scratch& s, const I8Inputs& d, int n) const {
    int32_t* dqs = s.sums.get<int32_t>(size_t(n) * w_.n_groups);
    tq2_group_sums_i8(w_, d.q, n, dqs);
    tq2_gemm_i8(w_, d.q, d.scale, d.zero, dqs, n, d.y);
  }

 private:
  DeviceBuffer dev_;
  Tq2Device w_;
};

class E2mLinear final : public Linear<E2mLinear> {
 public:
  E2mLinear(const uint8_t* buf, size_t n) : dev_(buf, n) {
    w_ = e2m_device(e2m_view(buf, n), buf, dev_.p);
    TQ2_CUDA(cudaMalloc(&wsum_, std::max<size_t>(1, w_.oc) * sizeof(float)));
    e2m_row_sums(w_, wsum_);
    TQ2_CUDA(cudaDeviceSynchronize());
  }
  ~E2mLinear() override { cudaFree(wsum_); }
  int64_t oc() const override { return w_.oc; }
  int64_t ic() const override { return w_.ic; }
  size_t device_bytes() const override { return dev_.n + size_t(w_.oc) * sizeof(float); }
  int64_t stride() const { return w_.ic; }

  // fp16 x [n, ic]: GEMV over the permuted copy for n <= 8, else the fp16 GEMM.
  void run_f16(const std::vector<__half>& h, int n, float* y) const {
    Scratch& s = scratch();
    std::lock_guard<std::mutex> lock(s.mu);
    __half* dx = s.x.get<__half>(h.size());
    __half* dxp = s.xp.get<__half>(size_t(n) * padded());
    float* dy = s.y.get<float>(size_t(n) * w_.oc);
    upload(dx, h.data(), h.size());
    if (n <= kGemvMax) {
      e2m_permute_f16(w_, dx, n, dxp);
      e2m_gemv(w_, dxp, n, dy);
    } else {
      float* rsum = s.sums.get<float>(size_t(n) * w_.n_blocks * 2);
      e2m_prep_f16(w_, dx, n, dxp, rsum);
      e2m_gemm_f16(w_, dxp, rsum, n, dy);
    }
    download(y, dy, size_t(n) * w_.oc);
  }
  void run_i8(Scratch& s, const I8Inputs& d, int n) const {
    int8_t* dqp = s.xp.get<int8_t>(size_t(n) * padded());
    int32_t* rsum = s.sums.get<int32_t>(size_t(n) * w_.n_blocks * 2);
    e2m_prep_i8(w_, d.q, n, dqp, rsum);
    e2m_gemm_i8(w_, dqp, rsum, d.scale, d.zero, wsum_, n, d.y);
  }

 private:
  int64_t padded() const { return w_.n_blocks * kE2mBlock; }

  DeviceBuffer dev_;
  E2mDevice w_;
  float* wsum_ = nullptr;
};

}  // namespace

std::string device_status() {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear the sticky-free error state
    return std::string("no usable CUDA device (") + cudaGetErrorString(e) + "); backend: kernel runs the CPU kernels";
  }
  if (count == 0) return "no CUDA device is visible (CUDA_VISIBLE_DEVICES?); backend: kernel runs the CPU kernels";
  int dev = 0, major = 0, minor = 0;
  TQ2_CUDA(cudaGetDevice(&dev));
  TQ2_CUDA(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
  TQ2_CUDA(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev));
  if (major < 8)
    return "CUDA device " + std::to_string(dev) + " has compute capability " + std::to_string(major) + "." +
           std::to_string(minor) + "; the kernels need 8.0+ (int8/fp16 tensor cores as built for sm_80/sm_90)";
  return "";
}

std::unique_ptr<DeviceLinear> make_device_linear(const std::string& format, const uint8_t* buf, size_t n) {
  const std::string why = device_status();
  if (!why.empty()) throw std::runtime_error(why);
  if (format == "tq2") return std::make_unique<Tq2Linear>(buf, n);
  if (format == "e2m") return std::make_unique<E2mLinear>(buf, n);
  throw std::invalid_argument("make_device_linear: format '" + format + "' has no CUDA kernel; use tq2 or e2m");
}

}  // namespace twla::kernels::cuda
