// tests/support/main.cpp: the Catch2 entry point shared by every test binary (v2 and v3).
#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_session.hpp>
#else
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#endif

#include <ATen/ATen.h>
#include <cstdlib>
#include <unistd.h>

#include "core/progress.h"
#include "core/runtime.h"

int main(int argc, char** argv) {
  // The same process environment as the `twla` binary (core/runtime.h): passive OpenMP waiting
  // (libgomp spin-waits by default; on a shared 2-core machine 2 threads ran 20-40x slower than
  // 1) and OpenBLAS's real kernels where it fell back to its SSE3 "Prescott" ones — so the tests
  // run the BLAS code users run (the Prescott strsm also crashed on some Cholesky sizes).
  // Libraries read these when they load, before main: set them and start again once.
  if (twla::prepare_process_env())
    ::execv("/proc/self/exe", argv);  // returns only on failure: then carry on as we are
  twla::Progress::set_quiet(true);
  at::globalContext().setFlushDenormal(true);  // as apps/main.cpp
  return Catch::Session().run(argc, argv);
}
