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
  // 3-4x slower for the GEMMs everything here is made of. Any AVX2+FMA CPU runs the Haswell ones.
  if (!std::getenv("OPENBLAS_CORETYPE") && blas_core_name() == "Prescott" &&
      __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    ::setenv("OPENBLAS_CORETYPE", "Haswell", 1);
    changed = true;
  }
#endif
  return changed;
}

}  // namespace twla
