// kernels/thread_pool.cpp: ThreadPool (generation counter + two condition variables).
#include "kernels/thread_pool.h"

#include <memory>
#include <stdexcept>
#include <string>

namespace twla::kernels {

ThreadPool::ThreadPool(int threads) : n_(threads < 1 ? 1 : threads) {
  for (int i = 0; i + 1 < n_; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> l(m_);
    stop_ = true;
  }
  cv_start_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::worker(int i) {
  long seen = 0;
  for (;;) {
    const std::function<void(int)>* fn;
    {
      std::unique_lock<std::mutex> l(m_);
      cv_start_.wait(l, [&] { return stop_ || gen_ != seen; });
      if (stop_) return;
      seen = gen_;
      fn = fn_;
    }
    (*fn)(i);
    std::lock_guard<std::mutex> l(m_);
    if (--pending_ == 0) cv_done_.notify_one();
  }
}

void ThreadPool::run(const std::function<void(int)>& fn) {
  if (n_ == 1) return fn(0);
  {
    std::lock_guard<std::mutex> l(m_);
    fn_ = &fn;
    pending_ = n_ - 1;
    ++gen_;
  }
  cv_start_.notify_all();
  fn(n_ - 1);
  std::unique_lock<std::mutex> l(m_);
  cv_done_.wait(l, [&] { return pending_ == 0; });
}

ThreadPool& ThreadPool::shared(int threads) {
  static std::unique_ptr<ThreadPool> pool;
  static std::mutex m;
  std::lock_guard<std::mutex> l(m);
  if (threads < 1) throw std::invalid_argument("threads=" + std::to_string(threads) + " must be >= 1");
  if (!pool || pool->size() != threads) {
    pool.reset();
    pool = std::make_unique<ThreadPool>(threads);
  }
  return *pool;
}

void parallel_rows(int threads, int64_t n, int64_t align, const std::function<void(int64_t, int64_t)>& fn) {
  if (threads <= 1 || n <= align) return fn(0, n);
  ThreadPool& pool = ThreadPool::shared(threads);
  int64_t chunks = (n + align - 1) / align;
  pool.run([&](int i) {
    int64_t per = chunks / pool.size(), extra = chunks % pool.size();
    int64_t c0 = i * per + (i < extra ? i : extra);
    int64_t c1 = c0 + per + (i < extra ? 1 : 0);
    int64_t b = c0 * align, e = c1 * align < n ? c1 * align : n;
    if (b < e) fn(b, e);
  });
}

}  // namespace twla::kernels
