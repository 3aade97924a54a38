// core/progress.cpp: see progress.h.
#include "core/progress.h"

#include <unistd.h>

#include <cstdio>

#include "core/strings.h"

namespace twla {

namespace {
bool g_quiet = false;
bool is_tty() { return ::isatty(2); }
}  // namespace

void Progress::set_quiet(bool q) { g_quiet = q; }

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total) {
  start_ = last_ = std::chrono::steady_clock::now();
}

void Progress::tick(int64_t n) { set(done_ + n); }

void Progress::set(int64_t done) {
  done_ = done;
  auto now = std::chrono::steady_clock::now();
  double since = std::chrono::duration<double>(now - last_).count();
  if (since >= (is_tty() ? 0.2 : 10.0)) {
    last_ = now;
    draw(false);
  }
}

void Progress::draw(bool final) {
  if (g_quiet) return;
  double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = el > 0 ? done_ / el : 0;
  std::string line = label_ + "  " + std::to_string(done_) + "/" + std::to_string(total_) +
                     (unit_.empty() ? "" : " " + unit_);
  if (final) {
    line += "  " + format_duration(el);
  } else if (done_ > 0) {
    line += "  " + fixed(rate, rate < 10 ? 2 : 0) + "/s  eta " +
            format_duration((total_ - done_) / rate);
  }
  if (is_tty()) std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), final ? "\n" : "");
  else std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  // Short loops stay silent: a final line only if the loop was long enough to be shown.
  double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (el > 1.0) draw(true);
}

Progress::~Progress() { finish(); }

}  // namespace twla
