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

int main(int argc, char** argv) {
  // libgomp spin-waits by default; on a shared 2-core machine that made 2 threads 20-40x slower
  // than 1. libgomp reads its environment when it is loaded, before main, so choose passive
  // waiting (unless the user chose) and start again once with it.
  if (!std::getenv("OMP_WAIT_POLICY")) {
    ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    ::execv("/proc/self/exe", argv);  // returns only on failure: then carry on as we are
  }
  twla::Progress::set_quiet(true);
  at::globalContext().setFlushDenormal(true);  // as apps/main.cpp
  return Catch::Session().run(argc, argv);
}
