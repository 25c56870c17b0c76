#include "core/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace baleen {
namespace {

TEST(ThreadPool, ParallelForCoversEveryIndexExactlyOnce) {
  ThreadPool pool(4);
  for (int64_t n : {1, 2, 3, 7, 100, 1001}) {
    std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
    pool.parallel_for(n, 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)]++;
    });
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "n=" << n << " i=" << i;
  }
}

TEST(ThreadPool, RepeatedCallsAndLargeGrainRunInline) {
  ThreadPool pool(2);
  std::atomic<int64_t> sum{0};
  for (int round = 0; round < 200; ++round) {
    pool.parallel_for(64, 8, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) sum += i;
    });
  }
  EXPECT_EQ(sum.load(), 200 * (63 * 64 / 2));
  int calls = 0;
  pool.parallel_for(10, 100, [&](int64_t begin, int64_t end) {
    ++calls;
    EXPECT_EQ(begin, 0);
    EXPECT_EQ(end, 10);
  });
  EXPECT_EQ(calls, 1);
}

// More threads than cores, loops back to back, chunks of uneven cost (some sleep past the pool's spin, so
// workers fall asleep and are woken mid-stream): every index of every loop runs exactly once, and a loop's
// writes are all visible when parallel_for returns.
TEST(ThreadPool, EveryChunkRunsOnceWhenThreadsOutnumberCores) {
  ThreadPool pool(8);
  std::vector<int64_t> hits(257);
  for (int round = 0; round < 3000; ++round) {
    const int64_t n = 1 + round % 257;
    pool.parallel_for(n, 1, [&](int64_t begin, int64_t end) {
      if (round % 97 == 0 && begin == 0) std::this_thread::sleep_for(std::chrono::microseconds(300));
      for (int64_t i = begin; i < end; ++i) ++hits[static_cast<size_t>(i)];
    });
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)], 1) << "round " << round << " i " << i;
    std::fill(hits.begin(), hits.end(), 0);
  }
}

}  // namespace
}  // namespace baleen
