// core/error.h: the two error channels of twla.
// TWLA_CHECK guards what a user or a file controls: it throws twla::Error whose message names the
// field or file, the value and a fix; the CLI prints it as one line. TWLA_ASSERT guards our own
// invariants: it aborts with file:line, because a failure there is a bug in twla, not in the input.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace twla {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

namespace detail {
template <class... A>
std::string cat(const A&... a) {
  std::ostringstream os;
  (os << ... << a);
  return os.str();
}
[[noreturn]] void assert_fail(const char* expr, const char* file, int line, const std::string& msg);
}  // namespace detail

template <class... A>
std::string str(const A&... a) { return detail::cat(a...); }

}  // namespace twla

#define TWLA_CHECK(cond, ...)                                      \
  do {                                                             \
    if (!(cond)) throw ::twla::Error(::twla::detail::cat(__VA_ARGS__)); \
  } while (0)

#define TWLA_FAIL(...) throw ::twla::Error(::twla::detail::cat(__VA_ARGS__))

#define TWLA_ASSERT(cond, ...)                                                        \
  do {                                                                                \
    if (!(cond))                                                                      \
      ::twla::detail::assert_fail(#cond, __FILE__, __LINE__, ::twla::detail::cat("", ##__VA_ARGS__)); \
  } while (0)
