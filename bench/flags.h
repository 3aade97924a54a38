// bench/flags.h: the `twla bench ...` programs' command-line reader: `--flag value` pairs and bare
// switches, comma lists ("1,4,16") and shapes ("OCxIC"); every error names the bench, the flag and
// its value, and ends with the bench's usage line. Header-only: four small parsers share it.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"

namespace twla::bench {

class Flags {
 public:
  Flags(int argc, char** argv, std::string bench, std::string usage)
      : argc_(argc), argv_(argv), bench_(std::move(bench)), usage_(std::move(usage)) {}

  // Advances to the next flag; false when none is left. --help / -h prints the usage and exits 0.
  bool next() {
    if (++i_ >= argc_) return false;
    flag_ = argv_[i_];
    if (flag_ == "--help" || flag_ == "-h") {
      std::cout << usage_ << "\n";
      std::exit(0);
    }
    return true;
  }
  bool is(const char* name) const { return flag_ == name; }

  std::string str() {
    if (i_ + 1 >= argc_) fail(flag_ + " needs a value");
    return argv_[++i_];
  }
  int64_t i64() { return number<int64_t>(str(), [](const std::string& s, size_t* p) { return std::stoll(s, p); }); }
  int i32() { return int(i64()); }
  uint64_t u64() { return number<uint64_t>(str(), [](const std::string& s, size_t* p) { return std::stoull(s, p); }); }
  double f64() { return number<double>(str(), [](const std::string& s, size_t* p) { return std::stod(s, p); }); }
  // "1,4,16" -> {1, 4, 16}.
  std::vector<int64_t> list() {
    const std::string v = str();
    std::vector<int64_t> out;
    for (size_t p = 0; p <= v.size();) {
      size_t c = v.find(',', p);
      if (c == std::string::npos) c = v.size();
      out.push_back(number<int64_t>(v.substr(p, c - p), [](const std::string& s, size_t* q) { return std::stoll(s, q); }));
      p = c + 1;
    }
    return out;
  }
  // "4096x11008" -> {4096, 11008}.
  std::pair<int64_t, int64_t> shape() { return parse_shape(str()); }
  // "4096x4096,11008x4096" -> {{4096, 4096}, {11008, 4096}}.
  std::vector<std::pair<int64_t, int64_t>> shapes() {
    const std::string v = str();
    std::vector<std::pair<int64_t, int64_t>> out;
    for (size_t p = 0; p <= v.size();) {
      size_t c = v.find(',', p);
      if (c == std::string::npos) c = v.size();
      out.push_back(parse_shape(v.substr(p, c - p)));
      p = c + 1;
    }
    return out;
  }

  [[noreturn]] void fail(const std::string& what) const { TWLA_FAIL(bench_, ": ", what, "; ", usage_); }
  [[noreturn]] void unknown() const { fail("unknown flag '" + flag_ + "'"); }

 private:
  std::pair<int64_t, int64_t> parse_shape(const std::string& v) const {
    const size_t x = v.find('x');
    if (x == std::string::npos) fail(flag_ + " " + v + " is not OCxIC");
    auto n = [&](const std::string& s) {
      return number<int64_t>(s, [](const std::string& t, size_t* p) { return std::stoll(t, p); });
    };
    return {n(v.substr(0, x)), n(v.substr(x + 1))};
  }
  template <class T, class F>
  T number(const std::string& s, F parse) const {
    try {
      size_t used = 0;
      T v = parse(s, &used);
      if (used == s.size()) return v;
    } catch (...) {
    }
    fail(flag_ + " " + s + " is not a number");
  }

  int argc_;
  char** argv_;
  std::string bench_, usage_;
  int i_ = -1;
  std::string flag_;
};

}  // namespace twla::bench
