// GPU kernel benchmarks at DeepSeek-V4-Flash shapes (spec "Notation"): each line is the device time per
// call (median of graph replays), the floor in the same run (bytes read / measured read bandwidth, or FLOPs
// / the FP8 peak given with --fp8-peak-tflops) and the ratio. Inputs rotate over copies larger than L2, so
// each call reads its weights from HBM as decode does.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "backend/cuda/activation_quant.h"
#include "backend/cuda/attention.h"
#include "backend/cuda/fp8_linear.h"
#include "backend/cuda/indexer.h"
#include "backend/cuda/moe_experts.h"
#include "bench_device.h"

namespace baleen::bench {
namespace {

using cuda::Fp8Activations;

constexpr size_t kRotateBytes = size_t{256} << 20;  // > 5× the 50 MB L2

void report(const char* name, double us, double floor_us) {
  std::printf("%-58s %10.2f us   floor %9.2f us   ratio %5.2f\n", name, us, floor_us, us / floor_us);
}

// FP8 activations for `tokens` rows of `cols`, row-major scales.
struct Activations {
  DeviceBytes codes, scales;
  Fp8Activations view;
  Activations(int64_t tokens, int64_t cols, bool vec128, std::mt19937& rng)
      : codes(static_cast<size_t>(tokens * cols)), scales(static_cast<size_t>(tokens * cols / 128 * 4)) {
    DeviceBytes x(static_cast<size_t>(tokens * cols * 4));
    fill_random_floats(x, rng);
    view = {codes.as<uint8_t>(),     scales.as<float>(), tokens, cols,
            vec128 ? 1 : cols / 128, vec128 ? tokens : 1};
    check(cuda::quantize_activations(x.as<float>(), cols, view, nullptr), "quantize");
    check(cudaDeviceSynchronize(), "quantize");
  }
};

void bench_fp8_decode(double bandwidth) {
  struct Shape {
    const char* name;
    int64_t rows, cols;
  };
  const Shape shapes[] = {{"wq_a 4096->1024", 1024, 4096}, {"wq_b 1024->32768", 32768, 1024},
                          {"wkv 4096->512", 512, 4096},    {"wo_a 8x(4096->1024)", 8192, 4096},
                          {"wo_b 8192->4096", 4096, 8192}, {"shared w1 4096->2048", 2048, 4096}};
  std::mt19937 rng(7);
  for (const auto& s : shapes) {
    const size_t w_bytes = static_cast<size_t>(s.rows * s.cols),
                 sc_bytes = static_cast<size_t>(s.rows / 128 * s.cols / 128);
    const int copies = static_cast<int>(std::max<size_t>(1, kRotateBytes / w_bytes));
    std::vector<std::unique_ptr<DeviceBytes>> data, scales;
    for (int c = 0; c < copies; ++c) {
      data.push_back(std::make_unique<DeviceBytes>(w_bytes));
      scales.push_back(std::make_unique<DeviceBytes>(sc_bytes));
      fill_random_bytes(*data.back(), rng);
      std::vector<uint8_t> ue(sc_bytes, 120);
      upload(*scales.back(), ue.data(), sc_bytes);
    }
    for (const int64_t tokens : {1, 8, 32}) {
      Activations x(tokens, s.cols, false, rng);
      DeviceBytes y(static_cast<size_t>(tokens * s.rows * 4));
      cuda::Fp8Weight w{data[0]->as<uint8_t>(), scales[0]->ptr, true, s.rows, s.cols};
      const size_t ws_bytes = cuda::fp8_linear_decode_workspace_bytes(tokens, w);
      DeviceBytes ws(ws_bytes);
      check(cudaMemset(ws.ptr, 0, ws_bytes), "memset");
      const double us = time_per_call_us(
          [&](cudaStream_t st, int i) {
            cuda::Fp8Weight wi{data[i % copies]->as<uint8_t>(), scales[i % copies]->ptr, true, s.rows,
                               s.cols};
            check(cuda::fp8_linear_decode(x.view, wi, y.as<float>(), s.rows, ws.ptr, ws_bytes, st),
                  "fp8 decode");
          },
          copies * 4);
      const std::string name = std::string("fp8_linear_decode ") + s.name + " M=" + std::to_string(tokens);
      report(name.c_str(), us, (w_bytes + sc_bytes) / bandwidth * 1e6);
    }
  }
}

void bench_fp8_prefill(double fp8_peak_flops) {
  std::mt19937 rng(8);
  cuda::PrefillContext* context = cuda::create_prefill_context();
  if (context == nullptr) check(cudaErrorUnknown, "cuBLASLt handle");
  const size_t ws_bytes = size_t{32} << 20;
  DeviceBytes ws(ws_bytes);
  struct Shape {
    int64_t tokens, rows, cols;
  };
  for (const Shape s : {Shape{4096, 1024, 4096}, Shape{4096, 4096, 8192}, Shape{8192, 32768, 1024}}) {
    DeviceBytes data(static_cast<size_t>(s.rows * s.cols)),
        scales(static_cast<size_t>(s.rows / 128 * s.cols / 128 * 4));
    fill_random_bytes(data, rng);
    std::vector<float> sc(scales.bytes / 4, 1.0f / 4096);
    upload(scales, sc.data(), scales.bytes);
    Activations x(s.tokens, s.cols, true, rng);
    DeviceBytes y(static_cast<size_t>(s.tokens * s.rows * 4));
    const cuda::Fp8Weight w{data.as<uint8_t>(), scales.ptr, false, s.rows, s.cols};
    const double us = time_per_call_us(
        [&](cudaStream_t st, int) {
          check(cuda::fp8_linear_prefill(context, x.view, w, y.as<float>(), ws.ptr, ws_bytes, st),
                "fp8 prefill");
        },
        5);
    const double flops = 2.0 * s.tokens * s.rows * s.cols;
    char name[128];
    std::snprintf(name, sizeof name, "fp8_linear_prefill M=%ld N=%ld K=%ld (%.0f TFLOP/s)", long(s.tokens),
                  long(s.rows), long(s.cols), flops / (us * 1e-6) / 1e12);
    report(name, us, flops / fp8_peak_flops * 1e6);
  }
  cuda::destroy_prefill_context(context);
}

// V4-Flash's routed experts: 256 of them, D 4096, F 2048, 6 per token; consecutive calls route to
// disjoint experts so every call reads its experts from HBM.
void bench_moe(double bandwidth) {
  const int64_t experts = 256, hidden = 4096, inter = 2048, k = 6;
  std::mt19937 rng(9);
  const size_t up_bytes = static_cast<size_t>(inter * hidden / 2),
               up_scales = static_cast<size_t>(inter * hidden / 32);
  std::vector<std::unique_ptr<DeviceBytes>> keep;
  std::vector<cuda::Fp4Matrix> m1, m2, m3;
  auto matrix = [&](size_t bytes, size_t scale_bytes) {
    keep.push_back(std::make_unique<DeviceBytes>(bytes));
    fill_random_bytes(*keep.back(), rng);
    auto* d = keep.back()->as<uint8_t>();
    keep.push_back(std::make_unique<DeviceBytes>(scale_bytes));
    std::vector<uint8_t> s(scale_bytes, 122);
    upload(*keep.back(), s.data(), scale_bytes);
    return cuda::Fp4Matrix{d, keep.back()->as<uint8_t>()};
  };
  for (int64_t e = 0; e < experts; ++e) {
    m1.push_back(matrix(up_bytes, up_scales));
    m3.push_back(matrix(up_bytes, up_scales));
    m2.push_back(matrix(up_bytes, up_scales));
  }
  auto table = [&](const std::vector<cuda::Fp4Matrix>& v) {
    keep.push_back(std::make_unique<DeviceBytes>(v.size() * sizeof(cuda::Fp4Matrix)));
    upload(*keep.back(), v.data(), keep.back()->bytes);
    return keep.back()->as<cuda::Fp4Matrix>();
  };
  const cuda::Fp4ExpertBank bank{table(m1), table(m3), table(m2), experts, hidden, inter};
  for (const int64_t tokens : {1, 8, 32}) {
    Activations x(tokens, hidden, false, rng);
    const int sets = 16;
    std::vector<int32_t> chosen;
    std::vector<float> weights;
    int64_t active_total = 0;
    for (int set = 0; set < sets; ++set) {
      std::vector<int32_t> perm(experts);
      std::iota(perm.begin(), perm.end(), 0);
      std::shuffle(perm.begin(), perm.end(), rng);
      std::vector<bool> used(experts, false);
      for (int64_t t = 0; t < tokens; ++t) {
        // Each token picks 6 distinct experts from a random 64-expert window (realistic overlap at batch).
        std::vector<int32_t> window(perm.begin() + (t * 7) % (experts - 64),
                                    perm.begin() + (t * 7) % (experts - 64) + 64);
        std::shuffle(window.begin(), window.end(), rng);
        for (int64_t j = 0; j < k; ++j) {
          chosen.push_back(window[static_cast<size_t>(j)]);
          weights.push_back(0.25f);
          used[static_cast<size_t>(window[static_cast<size_t>(j)])] = true;
        }
      }
      active_total += std::count(used.begin(), used.end(), true);
    }
    DeviceBytes routes_e(chosen.size() * 4), routes_w(weights.size() * 4),
        out(static_cast<size_t>(tokens * hidden * 4));
    upload(routes_e, chosen.data(), routes_e.bytes);
    upload(routes_w, weights.data(), routes_w.bytes);
    const cuda::DeviceRoutes r0{routes_e.as<int32_t>(), routes_w.as<float>(), tokens, k};
    const size_t ws_bytes = cuda::moe_experts_workspace_bytes(r0, bank);
    DeviceBytes ws(ws_bytes);
    const double us = time_per_call_us(
        [&](cudaStream_t st, int i) {
          const int set = i % sets;
          const cuda::DeviceRoutes r{routes_e.as<int32_t>() + set * tokens * k,
                                     routes_w.as<float>() + set * tokens * k, tokens, k};
          check(
              cuda::moe_experts_decode(x.view, r, bank, 10.0f, out.as<float>(), hidden, ws.ptr, ws_bytes, st),
              "moe");
        },
        sets * 2);
    const double bytes = double(active_total) / sets * 3 * (up_bytes + up_scales);
    char name[128];
    std::snprintf(name, sizeof name, "moe_experts_decode T=%ld (%.1f experts active)", long(tokens),
                  double(active_total) / sets);
    report(name, us, bytes / bandwidth * 1e6);
  }
}

// Random bytes with bits 3 and 7 of each byte cleared: finite e4m3 / bf16 values, ue8m0 scales ≤ 2^−8.
void fill_finite(DeviceBytes& d, std::mt19937& rng) {
  std::vector<uint32_t> host((d.bytes + 3) / 4);
  for (auto& v : host) v = rng() & 0x77777777u;
  upload(d, host.data(), d.bytes);
}

std::vector<int32_t> iota_rows(int64_t n) {
  std::vector<int32_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

// V4-Flash decode attention per layer at batch 1: HCA (window 128 + every entry of ctx/128) and CSA
// (indexer over ctx/4 entries, top-512, then window 128 + the 512 picks), against dense SDPA in the same run.
void bench_attention(double bandwidth, const std::vector<std::pair<int64_t, double>>& sdpa) {
  std::mt19937 rng(10);
  const int64_t heads = 64, window = 128, top_k = 512;
  DeviceBytes q(heads * cuda::kKvDim * 4), sinks(heads * 4), win_pool(window * 584),
      out(heads * cuda::kKvDim * 4);
  fill_random_floats(q, rng);
  fill_random_floats(sinks, rng);
  fill_finite(win_pool, rng);
  const auto win_rows = iota_rows(window);
  DeviceBytes win_list(window * 4);
  upload(win_list, win_rows.data(), win_list.bytes);
  for (const auto& [context, sdpa_us] : sdpa) {
    for (const bool csa : {false, true}) {
      const int64_t entries = context / (csa ? 4 : 128), attended = csa ? top_k : entries;
      DeviceBytes pool(static_cast<size_t>((entries + 63) / 64 * 64 * 584));
      fill_finite(pool, rng);
      std::vector<int32_t> rows = iota_rows(entries);
      if (csa) {
        std::shuffle(rows.begin(), rows.end(), rng);
        rows.resize(static_cast<size_t>(top_k));
      }
      DeviceBytes list(rows.size() * 4);
      upload(list, rows.data(), list.bytes);
      cuda::SparseDecodeArgs a;
      a.q = q.as<float>();
      a.tokens = 1;
      a.heads = heads;
      a.window_pool = {win_pool.as<uint8_t>(), 64};
      a.window = {win_list.as<int32_t>(), window, window};
      a.extra_pool = {pool.as<uint8_t>(), 64};
      a.extra = {list.as<int32_t>(), attended, attended};
      a.sinks = sinks.as<float>();
      a.scale = 1.0f / std::sqrt(512.0f);
      a.out = out.as<float>();
      const size_t ws_bytes = cuda::sparse_decode_workspace_bytes(a);
      DeviceBytes ws(ws_bytes);
      // The indexer's inputs (CSA): FP4 keys over all entries, one token's FP4 queries.
      DeviceBytes keys(static_cast<size_t>((entries + 63) / 64 * 64 * 68)), qi(heads * 68), wi(heads * 4),
          pos(8), scores(static_cast<size_t>(entries * 4)), picks(top_k * 4);
      fill_finite(keys, rng);
      fill_finite(qi, rng);
      fill_random_floats(wi, rng);
      const int64_t position = context - 1;
      upload(pos, &position, 8);
      const auto pages = iota_rows((entries + 63) / 64);
      DeviceBytes table(pages.size() * 4);
      upload(table, pages.data(), table.bytes);
      cuda::IndexerArgs ia;
      ia.q_data = qi.as<uint8_t>();
      ia.q_scales = qi.as<uint8_t>() + heads * 64;
      ia.head_weights = wi.as<float>();
      ia.tokens = 1;
      ia.heads = heads;
      ia.pages = keys.as<uint8_t>();
      ia.page_rows = 64;
      ia.page_table = table.as<int32_t>();
      ia.entries = entries;
      ia.positions = pos.as<int64_t>();
      ia.ratio = 4;
      ia.scale = 0.01f;
      ia.k = top_k;
      ia.scores = scores.as<float>();
      ia.picks = picks.as<int32_t>();
      double indexer_us = 0;
      if (csa) {
        indexer_us = time_per_call_us(
            [&](cudaStream_t st, int) { check(cuda::indexer_top_k(ia, st), "indexer"); }, 10);
      }
      const double attn_us = time_per_call_us(
          [&](cudaStream_t st, int) {
            check(cuda::sparse_decode_attention(a, ws.ptr, ws_bytes, st), "attention");
          },
          10);
      const double bytes = (window + attended) * 584.0 + (csa ? entries * 68.0 : 0.0);
      char name[160];
      std::snprintf(name, sizeof name, "%s ctx=%ld: attention %.2f + indexer %.2f us; SDPA %.1f us -> %.1fx",
                    csa ? "CSA" : "HCA", long(context), attn_us, indexer_us, sdpa_us,
                    sdpa_us / (attn_us + indexer_us));
      report(name, attn_us + indexer_us, bytes / bandwidth * 1e6);
    }
  }
}

}  // namespace
}  // namespace baleen::bench

int main(int argc, char** argv) {
  using namespace baleen::bench;
  double fp8_peak_tflops = 0;
  std::vector<std::pair<int64_t, double>> sdpa;  // --sdpa-us CONTEXT:US,… from bench/cuda/peers.py
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--fp8-peak-tflops") == 0) fp8_peak_tflops = std::atof(argv[i + 1]);
    if (std::strcmp(argv[i], "--sdpa-us") == 0) {
      for (const char* p = argv[i + 1]; *p != 0;) {
        char* end = nullptr;
        const long long context = std::strtoll(p, &end, 10);
        if (*end != ':') break;
        const double us = std::strtod(end + 1, &end);
        sdpa.emplace_back(context, us);
        p = *end == ',' ? end + 1 : end;
      }
    }
  }
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("cuda_kernels_bench: no CUDA device\n");
    return 0;
  }
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, 0), "properties");
  const double bandwidth = measure_read_bandwidth();
  std::printf("device %s, %d SMs; read bandwidth %.2f TB/s (4 GiB streamed)\n", prop.name,
              prop.multiProcessorCount, bandwidth / 1e12);
  bench_fp8_decode(bandwidth);
  if (fp8_peak_tflops > 0) bench_fp8_prefill(fp8_peak_tflops * 1e12);
  bench_moe(bandwidth);
  bench_attention(bandwidth, sdpa);
  return 0;
}
