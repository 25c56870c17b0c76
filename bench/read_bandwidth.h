// The machine's streaming read bandwidth, the floor the memory-bound benchmarks are held against:
// AVX2 sums over buffers ≫ any L3 on every core of a thread pool.
#pragma once

#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <span>
#include <vector>

#include "core/thread_pool.h"

namespace baleen {

// Seconds to read every byte of `buffers` once (whole 64-byte lines; a tail under 64 bytes is skipped),
// split across the pool. Each thread reads its range as 4 interleaved streams with software prefetch,
// the access pattern of the matmul kernels (a 4-row tile), which reads faster here than one stream.
inline double stream_read_seconds(ThreadPool& pool, std::span<const std::span<const uint8_t>> buffers) {
  const auto t0 = std::chrono::steady_clock::now();
  for (const auto& b : buffers) {
    const int64_t lines = static_cast<int64_t>(b.size() / 64);
    pool.parallel_for(lines, 1 << 10, [&](int64_t begin, int64_t end) {
      const int64_t quarter = (end - begin) / 4;
      __m256i acc[4] = {};
      auto line = [&](int64_t i, __m256i& a) {
        const auto* p = reinterpret_cast<const __m256i*>(b.data() + 64 * i);
        a = _mm256_add_epi32(a, _mm256_add_epi32(_mm256_loadu_si256(p), _mm256_loadu_si256(p + 1)));
      };
      for (int64_t i = 0; i < quarter; ++i) {
        for (int s = 0; s < 4; ++s) {
          const int64_t at = begin + s * quarter + i;
          _mm_prefetch(reinterpret_cast<const char*>(b.data() + 64 * std::min(at + 32, end - 1)),
                       _MM_HINT_T0);
          line(at, acc[s]);
        }
      }
      for (int64_t i = begin + 4 * quarter; i < end; ++i) line(i, acc[0]);
      alignas(32) int32_t out[8];
      _mm256_store_si256(reinterpret_cast<__m256i*>(out), _mm256_add_epi32(_mm256_add_epi32(acc[0], acc[1]),
                                                                           _mm256_add_epi32(acc[2], acc[3])));
      benchmark::DoNotOptimize(out);
    });
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Bytes per second over a 1 GiB buffer on all cores, best of 5, measured once per process.
inline double read_bandwidth() {
  static const double measured = [] {
    const std::vector<uint8_t> buffer(size_t{1} << 30, 1);
    const std::span<const uint8_t> all[] = {buffer};
    ThreadPool pool(0);
    double best = 1e30;
    for (int rep = 0; rep < 5; ++rep) best = std::min(best, stream_read_seconds(pool, all));
    return double(buffer.size()) / best;
  }();
  return measured;
}

}  // namespace baleen
