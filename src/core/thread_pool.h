// A fixed pool of worker threads for data-parallel loops. parallel_for splits [0, n) into
// contiguous chunks (as many as threads, each at least `grain`), which the calling thread and the workers
// claim one at a time, and returns when all are done. Which thread runs a chunk varies; the chunks do not.
// One parallel_for at a time per pool (calls from several threads are serialised); the body must
// not throw. Between loops the workers spin for a short while before they sleep, as a decode step is a few
// hundred short loops with little serial work between them: waking a sleeping thread costs more than a loop.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace baleen {

class ThreadPool {
 public:
  // threads == 0 means one per hardware thread.
  explicit ThreadPool(unsigned threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  unsigned size() const { return static_cast<unsigned>(workers_.size()) + 1; }

  // Calls body(begin, end) on disjoint chunks covering [0, n); chunks hold at least `grain` items.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& body);

 private:
  void worker_loop();
  bool run_chunks(uint64_t generation);  // claims and runs chunks of that loop while any are left

  std::vector<std::thread> workers_;
  std::mutex run_mutex_;  // serialises parallel_for calls
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  // The running loop: written before ticket_ is published (release), read after a chunk is claimed.
  const std::function<void(int64_t, int64_t)>* body_ = nullptr;
  int64_t n_ = 0;
  int64_t chunk_ = 0;
  std::atomic<uint64_t> ticket_{0};  // generation (32 bits) · chunk count (16) · next chunk (16)
  std::atomic<uint64_t> done_chunks_{0};
  std::atomic<bool> stop_{false};
  unsigned sleeping_ = 0;  // workers waiting on wake_ (guarded by mutex_)
};

}  // namespace baleen
