#include "core/thread_pool.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>

namespace baleen {

ThreadPool::ThreadPool(unsigned threads) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stop_.store(true);
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

namespace {

// Spins until done() or about 100 µs have passed, then returns done(). After the first few µs each round
// yields, so on a machine with more runnable threads than cores the thread being waited for can run.
template <typename Done>
bool spin_until(Done&& done) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  for (int i = 0;; ++i) {
    if (done()) return true;
    if ((i & 31) != 31) {
      _mm_pause();
      continue;
    }
    const auto spent = clock::now() - start;
    if (spent > std::chrono::microseconds(100)) return done();
    if (spent > std::chrono::microseconds(5)) std::this_thread::yield();
  }
}

}  // namespace

void ThreadPool::parallel_for(int64_t n, int64_t grain,
                              const std::function<void(int64_t, int64_t)>& body) {
  if (n <= 0) return;
  const int64_t parts = std::min<int64_t>(size(), std::max<int64_t>(1, n / std::max<int64_t>(1, grain)));
  if (parts <= 1) {
    body(0, n);
    return;
  }
  std::lock_guard run_lock(run_mutex_);
  const int64_t chunk = (n + parts - 1) / parts;
  bool sleepers;
  {
    std::lock_guard lock(mutex_);
    body_ = &body;
    n_ = n;
    chunk_ = chunk;
    pending_.store(static_cast<unsigned>(workers_.size()), std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    sleepers = sleeping_ > 0;
  }
  if (sleepers) wake_.notify_all();
  body(0, std::min(n, chunk));  // the caller takes chunk 0
  const auto finished = [this] { return pending_.load(std::memory_order_acquire) == 0; };
  if (!spin_until(finished)) {
    std::unique_lock lock(mutex_);
    done_.wait(lock, finished);
  }
  body_ = nullptr;
}

void ThreadPool::worker_loop(unsigned index) {
  uint64_t seen = 0;
  const auto posted = [&] { return stop_.load() || generation_.load(std::memory_order_acquire) != seen; };
  while (true) {
    if (!spin_until(posted)) {
      std::unique_lock lock(mutex_);
      ++sleeping_;
      wake_.wait(lock, posted);
      --sleeping_;
    }
    if (stop_.load()) return;
    seen = generation_.load(std::memory_order_acquire);
    const int64_t begin = std::min(n_, chunk_ * index), end = std::min(n_, begin + chunk_);
    if (begin < end) (*body_)(begin, end);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard lock(mutex_);  // the caller may be between its check and its wait
      done_.notify_one();
    }
  }
}

}  // namespace baleen
