// tests/apps/test_bench_flags.cpp: the benches' flag reader (bench/flags.h): values, lists, shapes,
// switches, and errors that name the bench, the flag and the usage line.
#include <string>
#include <vector>

#include "bench/flags.h"
#include "core/error.h"
#include "tests/catch.h"

using twla::bench::Flags;

namespace {
std::string error_of(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  Flags f(int(argv.size()), argv.data(), "demo", "usage: twla bench demo");
  try {
    while (f.next()) {
      if (f.is("--n")) f.i64();
      else if (f.is("--shape")) f.shape();
      else if (f.is("--list")) f.list();
      else f.unknown();
    }
  } catch (const twla::Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("bench flags: values, lists, shapes and switches") {
  std::vector<std::string> args{"--n", "12", "--shape", "4096x11008", "--list", "1,4,16", "--x", "--f", "0.25",
                                "--shapes", "64x128,11008x4096"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  Flags f(int(argv.size()), argv.data(), "demo", "usage");
  int64_t n = 0;
  std::pair<int64_t, int64_t> shape;
  std::vector<std::pair<int64_t, int64_t>> shapes;
  std::vector<int64_t> list;
  bool x = false;
  double d = 0;
  while (f.next()) {
    if (f.is("--n")) n = f.i64();
    else if (f.is("--shape")) shape = f.shape();
    else if (f.is("--shapes")) shapes = f.shapes();
    else if (f.is("--list")) list = f.list();
    else if (f.is("--x")) x = true;
    else if (f.is("--f")) d = f.f64();
    else f.unknown();
  }
  CHECK(n == 12);
  CHECK(shape == std::pair<int64_t, int64_t>{4096, 11008});
  CHECK(shapes == std::vector<std::pair<int64_t, int64_t>>{{64, 128}, {11008, 4096}});
  CHECK(list == std::vector<int64_t>{1, 4, 16});
  CHECK(x);
  CHECK(d == 0.25);
}

TEST_CASE("bench flags: errors name the bench, the flag and the usage") {
  const std::string missing = error_of({"--n"});
  CHECK(missing.find("demo: --n needs a value") != std::string::npos);
  CHECK(missing.find("usage: twla bench demo") != std::string::npos);
  CHECK(error_of({"--n", "12a"}).find("--n 12a is not a number") != std::string::npos);
  CHECK(error_of({"--shape", "4096"}).find("--shape 4096 is not OCxIC") != std::string::npos);
  CHECK(error_of({"--list", "1,,4"}).find("--list  is not a number") != std::string::npos);
  CHECK(error_of({"--bogus"}).find("unknown flag '--bogus'") != std::string::npos);
  CHECK(error_of({"--n", "3"}).empty());
}
