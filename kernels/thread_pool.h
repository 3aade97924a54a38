// kernels/thread_pool.h: a small fixed pool of std::threads for the CPU kernels (no OpenMP).
// Not here: work stealing or nested parallelism; one run() at a time per pool.
#pragma once
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace twla::kernels {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);  // threads - 1 workers; the caller is the last one
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  int size() const { return n_; }
  // Calls fn(i) for i in [0, size()) on distinct threads and waits for all.
  void run(const std::function<void(int)>& fn);
  // The process-wide pool with `threads` threads (rebuilt when the count changes; not for
  // concurrent callers asking for different counts).
  static ThreadPool& shared(int threads);

 private:
  void worker(int i);
  int n_;
  std::vector<std::thread> workers_;
  std::mutex m_;
  std::condition_variable cv_start_, cv_done_;
  const std::function<void(int)>* fn_ = nullptr;
  long gen_ = 0;
  int pending_ = 0;
  bool stop_ = false;
};

// Splits [0, n) into pool.size() contiguous ranges, multiples of `align`, and runs fn(begin, end).
void parallel_rows(int threads, int64_t n, int64_t align, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace twla::kernels
