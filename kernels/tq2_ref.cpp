// kernels/tq2_ref.cpp: the slow references for the tq2 kernels, plain loops in double: the
// definitions the fast kernels (tq2_cpu.cpp, cuda/) are tested against.
#include "kernels/tq2.h"

namespace twla::kernels {

namespace {
double weight(const Tq2View& w, int64_t o, int64_t k) {
  int64_t g = k / w.group_size;
  return double(w.mu[o * w.n_groups + g]) + double(w.alpha[o * w.n_groups + g]) * tq2_code(w, o, k);
}
}  // namespace

void tq2_gemm_f32_ref(const Tq2View& w, const float* x, int batch, float* y) {
  for (int b = 0; b < batch; ++b)
    for (int64_t o = 0; o < w.oc; ++o) {
      double acc = 0;
      for (int64_t k = 0; k < w.ic; ++k) acc += double(x[b * w.ic + k]) * weight(w, o, k);
      y[b * w.oc + o] = float(acc);
    }
}

void tq2_gemm_act_ref(const Tq2View& w, const Tq2Act& a, float* y) {
  for (int b = 0; b < a.batch; ++b)
    for (int64_t o = 0; o < w.oc; ++o) {
      double acc = 0;
      for (int64_t k = 0; k < w.ic; ++k)
        acc += (double(a.q[b * a.ic_pad + k]) - a.zero[b]) * a.scale[b] * weight(w, o, k);
      y[b * w.oc + o] = float(acc);
    }
}

}  // namespace twla::kernels
