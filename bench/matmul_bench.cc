// The CPU backend's matmul on weights in their stored dtypes at V4-Flash shapes, beside the machine's
// streaming read bandwidth measured in the same run. Decode (T=1) is memory-bound: its floor is the
// weight's bytes (values + scales) / read bandwidth, and `of_read` is the ratio reached. Every call reads
// another copy of the weight (≥ 160 MiB of copies in all, > 3× L3), so the bytes come from DRAM as in
// a real decode step. Run: build/release/bench/matmul_bench  (results in docs/BENCHMARKS.md)
#include <benchmark/benchmark.h>

#include <array>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "core/dtype.h"
#include "core/thread_pool.h"
#include "read_bandwidth.h"

namespace baleen {
namespace {

struct Shape {
  const char* name;
  DType dtype;
  int64_t out, in;
};

// V4-Flash: wq_a [Rq, D], wq_b [H·d, Rq], wo_b [D, g·dg], a routed expert's w1 [F, D], and a head-like
// BF16 matrix (the real head is [129280, 4096]; an eighth of it keeps the copies within memory).
constexpr std::array<Shape, 6> kShapes{{
    {"wq_a fp8 4096->1024", DType::kF8E4M3, 1024, 4096},
    {"wq_b fp8 1024->32768", DType::kF8E4M3, 32768, 1024},
    {"wo_b fp8 8192->4096", DType::kF8E4M3, 4096, 8192},
    {"expert w1 fp4 4096->2048", DType::kF4E2M1x2, 2048, 4096},
    {"head-like bf16 4096->16384", DType::kBF16, 16384, 4096},
    {"wq_a as fp32 4096->1024", DType::kF32, 1024, 4096},
}};

// One weight's stored bytes: codes drawn from a normal distribution quantized the way a checkpoint is
// (no NaN codes, few subnormals), ue8m0 scales per 128×128 (FP8) or 1×32 (FP4) block.
struct StoredBytes {
  std::vector<uint8_t> data, scales;
  int64_t block_rows = 0, block_cols = 0;
};

StoredBytes make_weight(const Shape& s, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  StoredBytes w;
  const int64_t n = s.out * s.in;
  switch (s.dtype) {
    case DType::kF8E4M3:
      w.block_rows = w.block_cols = 128;
      w.data.resize(static_cast<size_t>(n));
      for (auto& b : w.data) b = f32_to_fp8_e4m3(normal(rng) * 100.0f);  // amax ≈ 448 over a block
      w.scales.assign(static_cast<size_t>((s.out + 127) / 128 * ((s.in + 127) / 128)), 127 - 14);
      break;
    case DType::kF4E2M1x2:
      w.block_rows = 1, w.block_cols = 32;
      w.data.resize(static_cast<size_t>(n / 2));
      for (auto& b : w.data)
        b = static_cast<uint8_t>(f32_to_fp4_e2m1(normal(rng) * 2.5f) | f32_to_fp4_e2m1(normal(rng) * 2.5f)
                                                                           << 4);
      w.scales.assign(static_cast<size_t>(s.out * ((s.in + 31) / 32)), 127 - 8);
      break;
    case DType::kBF16:
      w.data.resize(static_cast<size_t>(2 * n));
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t v = f32_to_bf16(normal(rng) * 0.02f);
        std::memcpy(w.data.data() + 2 * i, &v, 2);
      }
      break;
    default:
      w.data.resize(static_cast<size_t>(4 * n));
      for (int64_t i = 0; i < n; ++i) {
        const float v = normal(rng) * 0.02f;
        std::memcpy(w.data.data() + 4 * i, &v, 4);
      }
  }
  return w;
}

// Args: shape index, tokens T. Each iteration is one pass over all copies; between passes (untimed) the
// same copies are read by a plain streaming sum on a pool of as many threads, so the floor is measured
// on the same bytes under the same load (this shared machine's load changes by the minute). Both are
// best of the passes.
void BM_Matmul(benchmark::State& state) {
  const Shape& s = kShapes[static_cast<size_t>(state.range(0))];
  const int64_t t = state.range(1);
  std::mt19937 rng(7);
  const StoredBytes one = make_weight(s, rng);
  const double bytes = double(one.data.size() + one.scales.size());
  const size_t copies = static_cast<size_t>(std::max(2.0, std::ceil(160.0 * (1 << 20) / bytes)));
  const std::vector<StoredBytes> weights(copies, one);
  std::vector<WeightView> views;
  std::vector<std::span<const uint8_t>> buffers;
  for (const auto& w : weights) {
    views.push_back({s.dtype, w.data.data(), s.out, s.in, w.scales.empty() ? nullptr : w.scales.data(),
                     DType::kUE8M0, w.block_rows, w.block_cols});
    buffers.emplace_back(w.data);
    if (!w.scales.empty()) buffers.emplace_back(w.scales);
  }
  auto backend = make_cpu_backend();
  ThreadPool pool(0);
  Tensor x({t, s.in}), y({t, s.out});
  std::normal_distribution<float> normal;
  for (float& v : x.values()) v = normal(rng);
  double best_pass = 1e30, best_read = 1e30;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    for (const auto& w : views) backend->matmul(x.matrix(), w, y.matrix());
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.SetIterationTime(secs);
    best_pass = std::min(best_pass, secs);
    best_read = std::min(best_read, stream_read_seconds(pool, buffers));
  }
  const double total = bytes * double(copies);
  state.SetLabel(s.name);
  state.counters["GB/s"] = total / best_pass / 1e9;
  state.counters["read_GB/s"] = total / best_read / 1e9;
  state.counters["of_read"] = best_read / best_pass;
  state.counters["GFLOP/s"] = 2.0 * double(t * s.out * s.in) * double(copies) / best_pass / 1e9;
}
BENCHMARK(BM_Matmul)
    ->ArgsProduct({{0, 1, 2, 3, 4, 5}, {1, 8}})
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime()
    ->Iterations(20);

// The whole-machine figure on a 1 GiB buffer (engine_bench's floor), for reference.
void BM_ReadBandwidth(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(read_bandwidth());
  state.counters["GB/s"] = read_bandwidth() / 1e9;
}
BENCHMARK(BM_ReadBandwidth)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace baleen

BENCHMARK_MAIN();
