// The CPU backend's attention kernel at decode (one query, one thread) over N keys, as fp32 rows and as
// the paper's stored 584-byte-style rows (FP8 + bf16 RoPE, decoded on the fly), beside the FLOP floor of
// the same thread: 4·N·heads·d FLOPs (scores and weighted sum) / the thread's fp32 matmul rate measured
// in the same run. Run: build/release/bench/attention_bench  (results in docs/BENCHMARKS.md)
#include <benchmark/benchmark.h>

#include <chrono>
#include <cmath>
#include <random>
#include <vector>

#include "backend/cpu/attention.h"
#include "backend/cpu/cpu_backend.h"
#include "core/tensor.h"
#include "model/kv_codec.h"

namespace baleen {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// One thread's fp32 matmul rate (the backend on one thread, 64 tokens × 1024 → 1024), best of 5.
double matmul_flops_per_second() {
  const int64_t t = 64, in = 1024, out = 1024;
  std::mt19937 rng(3);
  std::normal_distribution<float> dist;
  Tensor x({t, in}), w({out, in}), y({t, out});
  for (float& v : x.values()) v = dist(rng);
  for (float& v : w.values()) v = dist(rng);
  auto backend = make_cpu_backend(1);
  const WeightView wv{DType::kF32, w.data(), out, in};
  double best = 1e30;
  for (int rep = 0; rep < 5; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    backend->matmul(x.matrix(), wv, y.matrix());
    best = std::min(best, seconds_since(t0));
  }
  return 2.0 * t * in * out / best;
}

const double kMatmulRate = matmul_flops_per_second();

// Args: keys N, heads, head dim d, stored (0: fp32 rows; 1: FP8 + bf16-RoPE entries decoded on the fly).
void BM_DecodeAttention(benchmark::State& state) {
  const int64_t n = state.range(0), heads = state.range(1), d = state.range(2);
  const bool stored = state.range(3) != 0;
  std::mt19937 rng(5);
  std::normal_distribution<float> dist;
  Tensor q({1, heads * d}), keys({n, d}), sinks({heads}), out({1, heads * d});
  for (float& v : q.values()) v = 0.1f * dist(rng);
  for (float& v : keys.values()) v = dist(rng);
  for (float& v : sinks.values()) v = dist(rng);
  const float scale = 1.0f / std::sqrt(float(d));
  const KvCodec codec(KvFormat::kFp8Rope, d, 64);
  cpu::PagePool pool(codec);
  cpu::RingRows ring(codec, 1);
  cpu::PagedRows entries(&pool);
  for (int64_t i = 0; i + 1 < n; ++i) entries.append(keys.matrix().row(i));
  // Stored: the query at position n − 2 sees its own chunk row (window 1) and the n − 1 entries (ratio 1).
  const int64_t position = stored ? n - 2 : n - 1;
  const cpu::StoredKeys stored_keys{&ring, keys.matrix().rows_slice(n - 1, 1), position, 1, &entries, 1, {}};
  const cpu::AttentionKeys rows{keys.matrix(), 0, n, {}, 0, {}};
  for (auto _ : state) {
    if (stored) {
      cpu::attention_rows(q.matrix(), heads, stored_keys, &position, sinks.data(), scale, out.matrix(), 0, 1, 0,
                          heads);
    } else {
      cpu::attention_rows(q.matrix(), heads, rows, &position, sinks.data(), scale, out.matrix(), 0, 1, 0, heads);
    }
    benchmark::DoNotOptimize(out.data());
  }
  const double flops = 4.0 * double(n) * double(heads) * double(d);
  state.counters["GFLOP/s"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["matmul_GFLOP/s"] = kMatmulRate / 1e9;
  state.counters["ns/key"] = benchmark::Counter(double(n) * 1e-9, benchmark::Counter::kIsIterationInvariantRate |
                                                                     benchmark::Counter::kInvert);
  state.SetLabel(stored ? "fp8+bf16 stored" : "fp32 rows");
}
// nano's attention (4 heads × 128) over 1K and 8K keys; V4-Flash's (64 × 512) over 1K.
BENCHMARK(BM_DecodeAttention)
    ->Args({1024, 4, 128, 0})
    ->Args({1024, 4, 128, 1})
    ->Args({8192, 4, 128, 0})
    ->Args({8192, 4, 128, 1})
    ->Args({1024, 64, 512, 0})
    ->Args({1024, 64, 512, 1})
    ->Unit(benchmark::kMicrosecond)
    ->Repetitions(3)
    ->ReportAggregatesOnly(false);

}  // namespace
}  // namespace baleen

BENCHMARK_MAIN();
