// kernels/cuda/check_util.h: helpers of the standalone CUDA check (tq2_cuda_check): device arrays,
// the validation verdicts, CUDA-event timing and the JSON record (written by standalone_main.cu).
// Not here: the kernels (kernels/cuda/*.cu) and the checks themselves (standalone_main.cu, e2m_check.cu).
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cuda/tq2_cuda_check.h"

#define CUBLAS(call)                                                                                    \
  do {                                                                                                  \
    cublasStatus_t st_ = (call);                                                                        \
    if (st_ != CUBLAS_STATUS_SUCCESS)                                                                   \
      throw std::runtime_error("cuBLAS error " + std::to_string(int(st_)) + " in " #call);              \
  } while (0)

namespace twla::kernels::cuda::check {

template <class T>
struct Dev {  // a device array
  T* p = nullptr;
  size_t n = 0;
  explicit Dev(size_t n_) : n(n_) { TQ2_CUDA(cudaMalloc(&p, std::max<size_t>(1, n) * sizeof(T))); }
  explicit Dev(const std::vector<T>& h) : Dev(h.size()) {
    TQ2_CUDA(cudaMemcpy(p, h.data(), n * sizeof(T), cudaMemcpyHostToDevice));
  }
  ~Dev() { cudaFree(p); }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
  std::vector<T> get() const {
    std::vector<T> h(n);
    TQ2_CUDA(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost));
    return h;
  }
};

inline int failures = 0, checks = 0;
inline std::ostringstream json_checks, json_figures;  // JSON members, comma-joined as they come

inline void add_member(std::ostringstream& os, const std::string& member) {
  os << (os.tellp() > 0 ? ",\n    " : "\n    ") << member;
}

// Verdict of one kernel run: max |got - ref| <= tol_rel * cond + 1e-6, cond = the largest
// sum_k |x w| of the checked dot products. `what` names kernel, shape and m for the log and JSON.
inline void verdict(const std::string& what, const std::vector<float>& got, const std::vector<float>& ref, double cond,
                    double tol_rel) {
  double e = 0;
  bool finite = got.size() == ref.size();
  for (size_t i = 0; i < ref.size() && finite; ++i) {
    finite = std::isfinite(got[i]);
    e = std::max(e, std::fabs(double(got[i]) - ref[i]));
  }
  const double lim = tol_rel * cond + 1e-6;
  const bool ok = finite && e <= lim;
  ++checks;
  failures += !ok;
  std::printf("  %-44s max err %.3g (limit %.3g) %s\n", what.c_str(), e, lim, ok ? "ok" : "FAIL");
  std::ostringstream m, err;
  if (std::isfinite(e)) err << e;
  else err << "null";  // JSON has no inf
  m << "\"" << what << "\": {\"max_err\": " << err.str() << ", \"limit\": " << lim << ", \"ok\": " << (ok ? "true" : "false")
    << "}";
  add_member(json_checks, m.str());
}

// Mean ms per call over `iters` calls after one warm-up call, CUDA events on the default stream.
inline double time_ms(int iters, const std::function<void(int)>& fn) {
  fn(0);
  cudaEvent_t a, b;
  TQ2_CUDA(cudaEventCreate(&a));
  TQ2_CUDA(cudaEventCreate(&b));
  TQ2_CUDA(cudaEventRecord(a));
  for (int i = 1; i <= iters; ++i) fn(i);
  TQ2_CUDA(cudaEventRecord(b));
  TQ2_CUDA(cudaEventSynchronize(b));
  float ms = 0;
  TQ2_CUDA(cudaEventElapsedTime(&ms, a, b));
  cudaEventDestroy(a), cudaEventDestroy(b);
  TQ2_CUDA(cudaGetLastError());
  return ms / iters;
}

// One timing: ms, effective GB/s of `bytes`, TFLOP/s of `flop`, and cuBLAS time / this time.
inline void record(const std::string& name, double ms, double bytes, double flop, double ratio) {
  const double gbps = bytes / ms / 1e6, tflops = flop / ms / 1e9;
  std::printf("%-34s %9.4f ms %9.1f GB/s %8.2f TFLOP/s %7.2fx cuBLAS\n", name.c_str(), ms, gbps, tflops, ratio);
  std::fflush(stdout);
  std::ostringstream m;
  m << "\"" << name << "\": {\"ms\": " << ms << ", \"gbps\": " << gbps << ", \"tflops\": " << tflops
    << ", \"speedup_vs_cublas\": " << ratio << "}";
  add_member(json_figures, m.str());
}

}  // namespace twla::kernels::cuda::check
