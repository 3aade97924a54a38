// kernels/cpu_features.cpp: run-time CPU feature detection for kernel dispatch (AVX2 or scalar).
#include "kernels/kernels.h"

namespace twla::kernels {

bool cpu_has_avx2() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

bool cpu_has_avx_vnni() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avxvnni");
#else
  return false;
#endif
}

}  // namespace twla::kernels
