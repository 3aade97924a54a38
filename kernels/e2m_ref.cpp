// kernels/e2m_ref.cpp: the slow references for the e2m kernels: e2m_dequantize's fp32 weights and
// plain loops in double, the definitions the fast kernels (e2m_cpu.cpp, cuda/) are tested against.
#include <vector>

#include "kernels/e2m.h"

namespace twla::kernels {

void e2m_gemm_f32_ref(const E2mView& w, const float* x, int batch, float* y) {
  std::vector<float> W(size_t(w.oc * w.ic));
  e2m_dequantize(w, W.data());
  for (int b = 0; b < batch; ++b)
    for (int64_t o = 0; o < w.oc; ++o) {
      double acc = 0;
      for (int64_t k = 0; k < w.ic; ++k) acc += double(x[b * w.ic + k]) * W[o * w.ic + k];
      y[b * w.oc + o] = float(acc);
    }
}

void e2m_gemm_act_ref(const E2mView& w, const uint8_t* q, const float* scale, const float* zero, int batch,
                      float* y) {
  std::vector<float> W(size_t(w.oc * w.ic));
  e2m_dequantize(w, W.data());
  for (int b = 0; b < batch; ++b)
    for (int64_t o = 0; o < w.oc; ++o) {
      double acc = 0;
      for (int64_t k = 0; k < w.ic; ++k)
        acc += (double(q[b * w.ic + k]) - zero[b]) * scale[b] * W[o * w.ic + k];
      y[b * w.oc + o] = float(acc);
    }
}

}  // namespace twla::kernels
