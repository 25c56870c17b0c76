#include "core/thread_pool.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>

namespace baleen {
namespace {

// A ticket packs the loop's generation, its chunk count and the next chunk to claim, so one compare-and-swap
// both claims a chunk and proves the loop it belongs to is still the one running.
constexpr uint64_t ticket(uint64_t generation, uint64_t chunks, uint64_t next) {
  return generation << 32 | chunks << 16 | next;
}
constexpr uint64_t generation_of(uint64_t t) { return t >> 32; }
constexpr uint64_t chunks_of(uint64_t t) { return (t >> 16) & 0xFFFF; }
constexpr uint64_t next_of(uint64_t t) { return t & 0xFFFF; }

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

ThreadPool::ThreadPool(unsigned threads) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  threads = std::min(threads, 0xFFFFu);
  for (unsigned i = 1; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stop_.store(true);
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

bool ThreadPool::run_chunks(uint64_t generation) {
  bool ran = false;
  for (uint64_t t = ticket_.load(std::memory_order_acquire);;) {
    if (generation_of(t) != generation || next_of(t) >= chunks_of(t)) return ran;
    if (!ticket_.compare_exchange_weak(t, t + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
    // Claimed: the loop cannot finish before this chunk does, so its fields stay put.
    const int64_t begin = chunk_ * static_cast<int64_t>(next_of(t)), end = std::min(n_, begin + chunk_);
    (*body_)(begin, end);
    ran = true;
    if (done_chunks_.fetch_add(1, std::memory_order_acq_rel) + 1 == chunks_of(t)) {
      std::lock_guard lock(mutex_);  // the caller may be between its check and its wait
      done_.notify_one();
    }
    t = ticket_.load(std::memory_order_acquire);
  }
}

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
  const uint64_t chunks = static_cast<uint64_t>((n + chunk - 1) / chunk);
  const uint64_t generation = generation_of(ticket_.load(std::memory_order_relaxed)) + 1;
  bool sleepers;
  {
    std::lock_guard lock(mutex_);
    body_ = &body;
    n_ = n;
    chunk_ = chunk;
    done_chunks_.store(0, std::memory_order_relaxed);
    ticket_.store(ticket(generation & 0xFFFFFFFF, chunks, 0), std::memory_order_release);
    sleepers = sleeping_ > 0;
  }
  if (sleepers) wake_.notify_all();
  // The caller claims chunks too: a worker that is not running (another process has its core) delays no
  // one unless it claimed a chunk.
  run_chunks(generation & 0xFFFFFFFF);
  const auto finished = [&] { return done_chunks_.load(std::memory_order_acquire) == chunks; };
  if (!spin_until(finished)) {
    std::unique_lock lock(mutex_);
    done_.wait(lock, finished);
  }
}

void ThreadPool::worker_loop() {
  uint64_t seen = 0;
  const auto posted = [&] {
    return stop_.load() || generation_of(ticket_.load(std::memory_order_acquire)) != seen;
  };
  while (true) {
    if (!spin_until(posted)) {
      std::unique_lock lock(mutex_);
      ++sleeping_;
      wake_.wait(lock, posted);
      --sleeping_;
    }
    if (stop_.load()) return;
    seen = generation_of(ticket_.load(std::memory_order_acquire));
    run_chunks(seen);
  }
}

}  // namespace baleen
