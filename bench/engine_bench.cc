// CPU prefill and decode throughput of the engine on a mid-size random V4 model, the machine's streaming
// read bandwidth, and the decode floor it implies: (bytes of active weights + KV read per token) / bandwidth.
// Run: build/release/bench/engine_bench  (results in docs/BENCHMARKS.md)
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/cpu_backend.h"
#include "engine/model.h"
#include "read_bandwidth.h"

namespace baleen {
namespace {

// D=1024, 8 layers (2 sliding, 3 CSA, 3 HCA), 16 experts (2 active + shared), head_dim 128 (shrunk from 512).
Config mid_config() {
  Config c;
  c.model_type = "deepseek_v4";
  c.vocab_size = 16384;
  c.hidden_size = 1024;
  c.num_heads = 16;
  c.head_dim = 128;
  c.rope_head_dim = 64;
  c.q_lora_rank = 384;
  c.o_groups = 4;
  c.o_lora_rank = 256;
  c.sliding_window = 128;
  c.index_n_heads = 16;
  c.index_head_dim = 64;
  c.index_topk = 128;
  c.n_routed_experts = 16;
  c.n_activated_experts = 2;
  c.n_shared_experts = 1;
  c.moe_inter_dim = 512;
  c.routed_scaling_factor = 1.5;
  c.swiglu_limit = 10;
  c.hc_mult = 4;
  c.hc_sinkhorn_iters = 20;
  c.hc_eps = 1e-6;
  c.rms_norm_eps = 1e-6;
  c.rope_theta = 10000;
  c.compress_rope_theta = 160000;
  c.yarn = {true, 16.0, 65536, 32.0, 1.0};
  const int64_t ratios[] = {0, 4, 128, 4, 128, 4, 128, 0};
  for (int i = 0; i < 8; ++i)
    c.layers.push_back({ratios[i], i < 2 ? MoeRouting::kHash : MoeRouting::kLearned});
  c.num_layers = 8;
  return c;
}

struct Fixture {
  Config config = mid_config();
  ModelWeights weights = random_weights(config, 1);
  std::unique_ptr<Backend> backend = make_cpu_backend();
  Model model{config, weights, *backend};
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

std::vector<int32_t> prompt(int64_t n, int64_t vocab) {
  std::mt19937 rng(5);
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (auto& v : ids) v = static_cast<int32_t>(rng() % vocab);
  return ids;
}

int64_t tensor_bytes(const Tensor& t) {
  return 4 * t.size();
}

// Bytes of weights one decode token reads: everything but the embedding table and the unused experts.
int64_t active_weight_bytes(const Config& c, const ModelWeights& w) {
  int64_t total =
      4 * c.hidden_size + tensor_bytes(w.head) + tensor_bytes(w.norm) + tensor_bytes(w.hc_head.fn);
  auto compressor = [](const CompressorWeights& cw) { return tensor_bytes(cw.wkv) + tensor_bytes(cw.wgate); };
  for (const LayerWeights& l : w.layers) {
    const AttentionWeights& a = l.attn;
    total += tensor_bytes(l.hc_attn.fn) + tensor_bytes(l.hc_ffn.fn);
    for (const Tensor* t : {&a.wq_a, &a.wq_b, &a.wkv, &a.wo_a, &a.wo_b}) total += tensor_bytes(*t);
    if (a.compressor) total += compressor(*a.compressor);
    if (a.indexer)
      total += tensor_bytes(a.indexer->wq_b) + tensor_bytes(a.indexer->weights_proj) +
               compressor(a.indexer->compressor);
    const ExpertTensors& e = l.ffn.experts.front();
    const int64_t expert = tensor_bytes(e.w1) + tensor_bytes(e.w2) + tensor_bytes(e.w3);
    total += tensor_bytes(l.ffn.gate) + c.n_activated_experts * expert + tensor_bytes(l.ffn.shared.w1) +
             tensor_bytes(l.ffn.shared.w2) + tensor_bytes(l.ffn.shared.w3);
  }
  return total;
}

void BM_ReadBandwidth(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(read_bandwidth());
  state.counters["GB/s"] = read_bandwidth() / 1e9;
}
BENCHMARK(BM_ReadBandwidth)->Iterations(1)->Unit(benchmark::kMillisecond);

// The compute roof the prefill is held against: the backend's own fp32 matmul at a prefill-like shape.
void BM_Matmul(benchmark::State& state) {
  auto backend = make_cpu_backend();
  const int64_t t = 256, in = 1024, out = 1024;
  Tensor x({t, in}), w({out, in}), y({t, out});
  std::mt19937 rng(3);
  std::normal_distribution<float> dist;
  for (float& v : x.values()) v = dist(rng);
  for (float& v : w.values()) v = dist(rng);
  for (auto _ : state) backend->matmul(x.matrix(), weight_view(w), y.matrix());
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * t * in * out / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Matmul)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Prefill(benchmark::State& state) {
  Fixture& f = fixture();
  const int64_t tokens = state.range(0);
  const auto ids = prompt(tokens, f.config.vocab_size);
  for (auto _ : state) {
    SessionState session = f.model.new_session(StateStorage::kFp32);
    benchmark::DoNotOptimize(f.model.prefill(ids, session, 256));
  }
  state.counters["tokens/s"] =
      benchmark::Counter(double(tokens), benchmark::Counter::kIsIterationInvariantRate);
  // Matmul FLOPs per token (2 per active weight), the bulk of prefill's work.
  state.counters["GFLOP/token"] = 2.0 * double(active_weight_bytes(f.config, f.weights)) / 4 / 1e9;
}
BENCHMARK(BM_Prefill)->Arg(512)->Arg(2048)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Decode(benchmark::State& state) {
  Fixture& f = fixture();
  const int64_t context = state.range(0);
  const StateStorage storage = state.range(1) ? StateStorage::kPaper : StateStorage::kFp32;
  const auto ids = prompt(context + 1, f.config.vocab_size);
  SessionState base = f.model.new_session(storage);
  f.model.prefill(std::span(ids).first(static_cast<size_t>(context)), base, 256);
  for (auto _ : state) {
    state.PauseTiming();
    SessionState session = base.fork();
    state.ResumeTiming();
    benchmark::DoNotOptimize(
        f.model.forward(std::span(ids).subspan(static_cast<size_t>(context), 1), session));
  }
  const double bytes = double(active_weight_bytes(f.config, f.weights) + base.bytes());
  const double floor_tps = read_bandwidth() / bytes;
  state.counters["tokens/s"] = benchmark::Counter(1.0, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["floor_tokens/s"] = floor_tps;
  state.counters["MB_read/token"] = bytes / 1e6;
  state.counters["state_MB"] = double(base.bytes()) / 1e6;
}
BENCHMARK(BM_Decode)
    ->Args({512, 0})
    ->Args({4096, 0})
    ->Args({4096, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace baleen

BENCHMARK_MAIN();
