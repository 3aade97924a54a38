// tests/support/main.cpp: the Catch2 entry point shared by every test binary (v2 and v3).
#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_session.hpp>
#else
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#endif

#include <ATen/ATen.h>

#include "core/progress.h"

int main(int argc, char** argv) {
  twla::Progress::set_quiet(true);
  at::globalContext().setFlushDenormal(true);  // as apps/main.cpp
  return Catch::Session().run(argc, argv);
}
