// GPU kernel benchmarks at DeepSeek-V4-Flash shapes (spec "Notation"): each line is the device time per
// call (median of graph replays), the floor in the same run (bytes read / measured read bandwidth, or FLOPs
// / the FP8 peak given with --fp8-peak-tflops) and the ratio. Inputs rotate over copies larger than L2, so
// each call reads its weights from HBM as decode does.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "backend/cuda/activation_quant.h"
#include "backend/cuda/fp8_linear.h"
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
    view = {codes.as<uint8_t>(), scales.as<float>(), tokens, cols, vec128 ? 1 : cols / 128, vec128 ? tokens : 1};
    check(cuda::quantize_activations(x.as<float>(), cols, view, nullptr), "quantize");
    check(cudaDeviceSynchronize(), "quantize");
  }
};

void bench_fp8_decode(double bandwidth) {
  struct Shape {
    const char* name;
    int64_t rows, cols;
  };
  const Shape shapes[] = {{"wq_a 4096->1024", 1024, 4096},   {"wq_b 1024->32768", 32768, 1024},
                          {"wkv 4096->512", 512, 4096},      {"wo_a 8x(4096->1024)", 8192, 4096},
                          {"wo_b 8192->4096", 4096, 8192},   {"shared w1 4096->2048", 2048, 4096}};
  std::mt19937 rng(7);
  for (const auto& s : shapes) {
    const size_t w_bytes = static_cast<size_t>(s.rows * s.cols), sc_bytes = static_cast<size_t>(s.rows / 128 * s.cols / 128);
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
            cuda::Fp8Weight wi{data[i % copies]->as<uint8_t>(), scales[i % copies]->ptr, true, s.rows, s.cols};
            check(cuda::fp8_linear_decode(x.view, wi, y.as<float>(), s.rows, ws.ptr, ws_bytes, st), "fp8 decode");
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
    DeviceBytes data(static_cast<size_t>(s.rows * s.cols)), scales(static_cast<size_t>(s.rows / 128 * s.cols / 128 * 4));
    fill_random_bytes(data, rng);
    std::vector<float> sc(scales.bytes / 4, 1.0f / 4096);
    upload(scales, sc.data(), scales.bytes);
    Activations x(s.tokens, s.cols, true, rng);
    DeviceBytes y(static_cast<size_t>(s.tokens * s.rows * 4));
    const cuda::Fp8Weight w{data.as<uint8_t>(), scales.ptr, false, s.rows, s.cols};
    const double us = time_per_call_us(
        [&](cudaStream_t st, int) {
          check(cuda::fp8_linear_prefill(context, x.view, w, y.as<float>(), ws.ptr, ws_bytes, st), "fp8 prefill");
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
  const size_t up_bytes = static_cast<size_t>(inter * hidden / 2), up_scales = static_cast<size_t>(inter * hidden / 32);
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
        std::vector<int32_t> window(perm.begin() + (t * 7) % (experts - 64), perm.begin() + (t * 7) % (experts - 64) + 64);
        std::shuffle(window.begin(), window.end(), rng);
        for (int64_t j = 0; j < k; ++j) {
          chosen.push_back(window[static_cast<size_t>(j)]);
          weights.push_back(0.25f);
          used[static_cast<size_t>(window[static_cast<size_t>(j)])] = true;
        }
      }
      active_total += std::count(used.begin(), used.end(), true);
    }
    DeviceBytes routes_e(chosen.size() * 4), routes_w(weights.size() * 4), out(static_cast<size_t>(tokens * hidden * 4));
    upload(routes_e, chosen.data(), routes_e.bytes);
    upload(routes_w, weights.data(), routes_w.bytes);
    const cuda::DeviceRoutes r0{routes_e.as<int32_t>(), routes_w.as<float>(), tokens, k};
    const size_t ws_bytes = cuda::moe_experts_workspace_bytes(r0, bank);
    DeviceBytes ws(ws_bytes);
    const double us = time_per_call_us(
        [&](cudaStream_t st, int i) {
          const int set = i % sets;
          const cuda::DeviceRoutes r{routes_e.as<int32_t>() + set * tokens * k, routes_w.as<float>() + set * tokens * k,
                                     tokens, k};
          check(cuda::moe_experts_decode(x.view, r, bank, 10.0f, out.as<float>(), hidden, ws.ptr, ws_bytes, st),
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

}  // namespace
}  // namespace baleen::bench

int main(int argc, char** argv) {
  using namespace baleen::bench;
  double fp8_peak_tflops = 0;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--fp8-peak-tflops") == 0) fp8_peak_tflops = std::atof(argv[i + 1]);
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("cuda_kernels_bench: no CUDA device\n");
    return 0;
  }
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, 0), "properties");
  const double bandwidth = measure_read_bandwidth();
  std::printf("device %s, %d SMs; read bandwidth %.2f TB/s (4 GiB streamed)\n", prop.name, prop.multiProcessorCount,
              bandwidth / 1e12);
  bench_fp8_decode(bandwidth);
  if (fp8_peak_tflops > 0) bench_fp8_prefill(fp8_peak_tflops * 1e12);
  bench_moe(bandwidth);
  return 0;
}
