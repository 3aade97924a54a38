// tests/support/util.h: small helpers the test files share: a fresh temporary folder per test
// and the message of the twla::Error a call throws.
// Not here: golden-case loading (golden.h, golden_cases.h).
#pragma once
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <string>

#include "core/error.h"

namespace twla::test {

// An empty folder $TMPDIR/twla-<tag>-<pid> (removed first if a previous run left it).
inline std::filesystem::path temp_dir(const std::string& tag) {
  namespace fs = std::filesystem;
  auto p = fs::temp_directory_path() / ("twla-" + tag + "-" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

// What fn throws as twla::Error, or "" when it returns (other exceptions propagate).
inline std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace twla::test
