// core/progress.h: one-line progress with rate and ETA on stderr, for every loop that may take
// more than a few seconds ("ppl wikitext2  120/332 windows  3.1/s  eta 1m08s"). Quiet when
// stderr is not a terminal except for a line every ~10 s, so logs of Slurm jobs stay readable.
#pragma once
#include <chrono>
#include <string>

namespace twla {

class Progress {
 public:
  Progress(std::string label, int64_t total, std::string unit = "");
  void tick(int64_t n = 1);
  void set(int64_t done);
  void finish();
  ~Progress();
  static void set_quiet(bool q);

 private:
  void draw(bool final);
  std::string label_, unit_;
  int64_t total_, done_ = 0;
  std::chrono::steady_clock::time_point start_, last_;
  bool finished_ = false;
};

}  // namespace twla
