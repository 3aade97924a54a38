// core/runtime.cpp: see runtime.h.
#include "core/runtime.h"

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>

namespace twla {

std::string blas_core_name() {
  using CoreFn = char* (*)();
  if (auto f = reinterpret_cast<CoreFn>(::dlsym(RTLD_DEFAULT, "openblas_get_corename"))) {
    if (const char* s = f()) return s;
  }
  return "unknown";
}

bool prepare_process_env() {
  bool changed = false;
  // libgomp spin-waits by default; on a shared 2-core machine that made 2 threads 20-40x slower
  // than 1.
  if (!std::getenv("OMP_WAIT_POLICY")) {
    ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    changed = true;
  }
#if defined(__x86_64__)
  // OpenBLAS picks its kernels from the CPU model number; an unknown one gets the SSE3 kernels,
  // 3-4x slower for the GEMMs everything here is made of. AVX-512 CPUs run the SkylakeX ones
  // (GPTQ 4096^2: 3.6 s vs 4.4 s with Haswell's, docs/PERFORMANCE.md), other AVX2+FMA CPUs Haswell's.
  if (!std::getenv("OPENBLAS_CORETYPE") && blas_core_name() == "Prescott" &&
      __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    ::setenv("OPENBLAS_CORETYPE", avx512 ? "SkylakeX" : "Haswell", 1);
    changed = true;
  }
#endif
  return changed;
}

}  // namespace twla
