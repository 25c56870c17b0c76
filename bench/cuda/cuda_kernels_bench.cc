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
#include "backend/cuda/session_kernels.h"
#include "backend/cuda/token_ops.h"
#include "backend/cuda/weight_matmul.h"
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

// `sets` routings of `tokens` tokens to k of `experts` each: every token picks k distinct experts from a
// 64-expert window of a shuffled order (some overlap between the tokens of a batch, as at decode).
struct RouteSets {
  std::vector<int32_t> experts;
  std::vector<float> gates;
  double active = 0;  // distinct experts a set, on average
};

RouteSets random_route_sets(int64_t experts, int64_t tokens, int64_t k, int sets, std::mt19937& rng) {
  RouteSets r;
  int64_t active = 0;
  for (int set = 0; set < sets; ++set) {
    std::vector<int32_t> perm(static_cast<size_t>(experts));
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    std::vector<bool> used(static_cast<size_t>(experts), false);
    for (int64_t t = 0; t < tokens; ++t) {
      const auto from = perm.begin() + (t * 7) % (experts - 64);
      std::vector<int32_t> window(from, from + 64);
      std::shuffle(window.begin(), window.end(), rng);
      for (int64_t j = 0; j < k; ++j) {
        r.experts.push_back(window[static_cast<size_t>(j)]);
        r.gates.push_back(0.25f);
        used[static_cast<size_t>(window[static_cast<size_t>(j)])] = true;
      }
    }
    active += std::count(used.begin(), used.end(), true);
  }
  r.active = double(active) / sets;
  return r;
}

// Random bytes with bits 3 and 7 of each byte cleared: finite e4m3 / bf16 values, ue8m0 scales ≤ 2^−8.
void fill_finite(DeviceBytes& d, std::mt19937& rng) {
  std::vector<uint32_t> host((d.bytes + 3) / 4);
  for (auto& v : host) v = rng() & 0x77777777u;
  upload(d, host.data(), d.bytes);
}

// A stored weight as the backend's general kernels see it: FP8 e4m3 in 128×128 blocks, FP4 e2m1 in 1×32
// blocks (ue8m0 scales) or bf16; random finite codes.
struct BenchWeight {
  std::unique_ptr<DeviceBytes> data, scales;
  cuda::DeviceWeight view;
  size_t bytes() const { return data->bytes + (scales ? scales->bytes : 0); }
};

BenchWeight bench_weight(int dtype, int64_t rows, int64_t cols, std::mt19937& rng) {
  BenchWeight w;
  w.view.dtype = dtype;
  w.view.rows = rows, w.view.cols = cols;
  const int64_t bytes = rows * cols * (dtype == cuda::kDtBF16 ? 4 : dtype == cuda::kDtF8E4M3 ? 2 : 1) / 2;
  w.data = std::make_unique<DeviceBytes>(static_cast<size_t>(bytes));
  fill_finite(*w.data, rng);
  w.view.data = w.data->ptr;
  if (dtype != cuda::kDtBF16) {
    const bool fp8 = dtype == cuda::kDtF8E4M3;
    w.view.block_rows = fp8 ? 128 : 1, w.view.block_cols = fp8 ? 128 : 32;
    w.view.scale_cols = cols / w.view.block_cols;
    const size_t n = static_cast<size_t>(rows / w.view.block_rows * w.view.scale_cols);
    w.scales = std::make_unique<DeviceBytes>(n);
    std::vector<uint8_t> e(n, fp8 ? 119 : 121);
    upload(*w.scales, e.data(), n);
    w.view.scales = w.scales->ptr;
    w.view.scale_dtype = cuda::kDtUE8M0;
  }
  return w;
}

// The backend's general linear layer (weight_matmul, fp32 activations) at V4-Flash's decode shapes, each
// layer's weights in copies that together exceed L2, so every call reads from HBM.
void bench_weight_matmul(double bandwidth) {
  struct Shape {
    const char* name;
    int dtype;
    int64_t rows, cols;
  };
  const Shape shapes[] = {{"fp8 wq_a 4096->1024", cuda::kDtF8E4M3, 1024, 4096},
                          {"fp8 wkv 4096->512", cuda::kDtF8E4M3, 512, 4096},
                          {"fp8 shared w1 4096->2048", cuda::kDtF8E4M3, 2048, 4096},
                          {"fp8 wq_b 1024->32768", cuda::kDtF8E4M3, 32768, 1024},
                          {"fp8 wo_b 8192->4096", cuda::kDtF8E4M3, 4096, 8192},
                          {"fp4 expert w2 2048->4096", cuda::kDtF4E2M1x2, 4096, 2048},
                          {"bf16 head 4096->129280", cuda::kDtBF16, 129280, 4096}};
  std::mt19937 rng(11);
  for (const auto& s : shapes) {
    std::vector<BenchWeight> copies;
    do {
      copies.push_back(bench_weight(s.dtype, s.rows, s.cols, rng));
    } while (copies.size() * copies[0].bytes() < kRotateBytes);
    const int n = static_cast<int>(copies.size());
    for (const int64_t tokens : {1, 8, 32}) {
      DeviceBytes x(static_cast<size_t>(tokens * s.cols * 4)), y(static_cast<size_t>(tokens * s.rows * 4));
      fill_random_floats(x, rng);
      const double us = time_per_call_us(
          [&](cudaStream_t st, int i) {
            check(cuda::weight_matmul(x.as<float>(), s.cols, tokens, copies[static_cast<size_t>(i % n)].view, 1,
                                      y.as<float>(), s.rows, st),
                  "weight_matmul");
          },
          std::max(n * 2, 8));
      const std::string name = std::string("weight_matmul ") + s.name + " M=" + std::to_string(tokens);
      report(name.c_str(), us, copies[0].bytes() / bandwidth * 1e6);
    }
  }
}

// The backend's general expert mix (expert_mix: fp32 activations, FP4 routed experts, the FP8 shared one)
// at V4-Flash's shapes, 6 routes a token; consecutive calls route to disjoint experts.
void bench_expert_mix(double bandwidth) {
  const int64_t n_experts = 256, hidden = 4096, inter = 2048, k = 6;
  std::mt19937 rng(12);
  std::vector<BenchWeight> w1, w2, w3;
  for (int64_t e = 0; e < n_experts; ++e) {
    w1.push_back(bench_weight(cuda::kDtF4E2M1x2, inter, hidden, rng));
    w2.push_back(bench_weight(cuda::kDtF4E2M1x2, hidden, inter, rng));
    w3.push_back(bench_weight(cuda::kDtF4E2M1x2, inter, hidden, rng));
  }
  const BenchWeight s1 = bench_weight(cuda::kDtF8E4M3, inter, hidden, rng),
                    s2 = bench_weight(cuda::kDtF8E4M3, hidden, inter, rng),
                    s3 = bench_weight(cuda::kDtF8E4M3, inter, hidden, rng);
  std::vector<std::unique_ptr<DeviceBytes>> tables;
  auto table = [&](const std::vector<BenchWeight>& v) {
    std::vector<cuda::DeviceWeight> views;
    for (const auto& w : v) views.push_back(w.view);
    tables.push_back(std::make_unique<DeviceBytes>(views.size() * sizeof(cuda::DeviceWeight)));
    upload(*tables.back(), views.data(), tables.back()->bytes);
    return tables.back()->as<const cuda::DeviceWeight>();
  };
  cuda::DeviceExperts e;
  e.w1 = table(w1), e.w2 = table(w2), e.w3 = table(w3);
  e.experts = n_experts, e.hidden = hidden, e.inter = inter;
  e.shared_w1 = s1.view, e.shared_w2 = s2.view, e.shared_w3 = s3.view;
  const size_t expert_bytes = w1[0].bytes() + w2[0].bytes() + w3[0].bytes(),
               shared_bytes = s1.bytes() + s2.bytes() + s3.bytes();
  for (const int64_t tokens : {1, 8}) {
    const int sets = 16;
    const RouteSets routes = random_route_sets(n_experts, tokens, k, sets, rng);
    const std::vector<int32_t>& chosen = routes.experts;
    const std::vector<float>& gates = routes.gates;
    DeviceBytes ids(chosen.size() * 4), weights(gates.size() * 4), x(static_cast<size_t>(tokens * hidden * 4)),
        out(static_cast<size_t>(tokens * hidden * 4)),
        scratch(static_cast<size_t>(cuda::expert_mix_scratch_floats(tokens, k, e) * 4));
    upload(ids, chosen.data(), ids.bytes);
    upload(weights, gates.data(), weights.bytes);
    fill_random_floats(x, rng);
    const double us = time_per_call_us(
        [&](cudaStream_t st, int i) {
          const int64_t at = (i % sets) * tokens * k;
          check(cuda::expert_mix(x.as<float>(), hidden, tokens, ids.as<int32_t>() + at, weights.as<float>() + at,
                                 k, e, 10.0f, scratch.as<float>(), out.as<float>(), hidden, st),
                "expert_mix");
        },
        sets * 2);
    const double bytes = routes.active * expert_bytes + shared_bytes;
    char name[128];
    std::snprintf(name, sizeof name, "expert_mix T=%ld (%.1f routed experts + shared)", long(tokens),
                  routes.active);
    report(name, us, bytes / bandwidth * 1e6);
  }
}

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
    const RouteSets routes = random_route_sets(experts, tokens, k, sets, rng);
    const std::vector<int32_t>& chosen = routes.experts;
    const std::vector<float>& weights = routes.gates;
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
    const double bytes = routes.active * 3 * (up_bytes + up_scales);
    char name[128];
    std::snprintf(name, sizeof name, "moe_experts_decode T=%ld (%.1f experts active)", long(tokens),
                  routes.active);
    report(name, us, bytes / bandwidth * 1e6);
  }
}

// The step's small token ops at V4-Flash's decode shape (one token, 4 streams of 4096): hc_pre (the mixes'
// dots, the Sinkhorn iterations and the collapse), hc_post and rms_norm, their weights in copies larger
// than L2. Graph replays, so no launch gaps: beside the op profile's per-call figures (which hold them),
// they say how much of a small op's time in a step is the kernel's own.
void bench_token_ops(double bandwidth) {
  const int64_t n = 4, hidden = 4096, mixes = (2 + n) * n;
  std::mt19937 rng(12);
  std::vector<std::unique_ptr<DeviceBytes>> fns;
  do {
    fns.push_back(std::make_unique<DeviceBytes>(static_cast<size_t>(mixes * n * hidden * 4)));
    fill_random_floats(*fns.back(), rng, 0.01f);
  } while (fns.size() * fns[0]->bytes < kRotateBytes);
  DeviceBytes streams(n * hidden * 4), x(hidden * 4), post(n * 4), comb(n * n * 4), base(mixes * 4), scale(3 * 4),
      norm(hidden * 4), out(n * hidden * 4);
  fill_random_floats(streams, rng);
  fill_random_floats(base, rng, 0.1f);
  fill_random_floats(scale, rng, 0.1f);
  fill_random_floats(norm, rng);
  const int copies = static_cast<int>(fns.size());
  HyperConnectionParams p;
  p.base = base.as<float>();
  p.scale = scale.as<float>();
  p.streams = n;
  p.hidden = hidden;
  p.sinkhorn_iters = 20;
  p.hc_eps = 1e-6f;
  p.norm_eps = 1e-6f;
  const MatrixView<const float> sv{streams.as<float>(), 1, n * hidden};
  const double pre_us = time_per_call_us(
      [&](cudaStream_t st, int i) {
        HyperConnectionParams q = p;
        q.fn = fns[static_cast<size_t>(i % copies)]->as<float>();
        check(cuda::hc_pre(sv, q, {x.as<float>(), 1, hidden}, {post.as<float>(), 1, n}, {comb.as<float>(), 1, n * n},
                           st),
              "hc_pre");
      },
      std::max(copies * 2, 8));
  report("hc_pre 1 token, 4 x 4096 (24 mixes, 20 Sinkhorn iterations)", pre_us,
         (mixes + 1) * n * hidden * 4.0 / bandwidth * 1e6);
  const double post_us = time_per_call_us(
      [&](cudaStream_t st, int) {
        check(cuda::hc_post({x.as<float>(), 1, hidden}, {post.as<float>(), 1, n}, {comb.as<float>(), 1, n * n}, sv,
                            {out.as<float>(), 1, n * hidden}, st),
              "hc_post");
      },
      8);
  report("hc_post 1 token, 4 x 4096", post_us, 2 * n * hidden * 4.0 / bandwidth * 1e6);
  const double norm_us = time_per_call_us(
      [&](cudaStream_t st, int) {
        check(cuda::rms_norm({x.as<float>(), 1, hidden}, norm.as<float>(), 1e-6f, {x.as<float>(), 1, hidden}, st),
              "rms_norm");
      },
      8);
  report("rms_norm 1 x 4096", norm_us, 3 * hidden * 4.0 / bandwidth * 1e6);
}

std::vector<int32_t> iota_rows(int64_t n) {
  std::vector<int32_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

// The backend's own indexer (the model's decode path): the CPU's bits, on integer tensor cores
// (fp4_indexer_scores.cu) for what paper storage holds: FP4 keys of random normal rows and one token's
// queries FP4-round-tripped as the engine does, keys named through page pointers; its scores and its
// selection apart.
void bench_session_indexer(double bandwidth, int64_t context, std::mt19937& rng) {
  const int64_t heads = 64, dim = 128, entries = context / 4, pages = (entries + 63) / 64;
  const KvCodec codec(KvFormat::kFp4, dim, 0);
  std::normal_distribution<float> normal;
  std::vector<float> row(static_cast<size_t>(dim));
  std::vector<uint8_t> pool(static_cast<size_t>(pages * 64 * 68));
  for (int64_t i = 0; i < entries; ++i) {
    for (float& v : row) v = normal(rng);
    uint8_t* page = pool.data() + i / 64 * 64 * 68;
    codec.encode(row.data(), page + i % 64 * 64, page + 64 * 64 + i % 64 * 4);
  }
  DeviceBytes keys(pool.size());
  upload(keys, pool.data(), pool.size());
  std::vector<const uint8_t*> page_ptrs;  // the pages in order
  for (int64_t p = 0; p < pages; ++p) page_ptrs.push_back(keys.as<uint8_t>() + p * 64 * 68);
  std::vector<float> q_host(static_cast<size_t>(heads * dim));
  std::vector<uint8_t> q_codes(64 + 4);
  for (int64_t h = 0; h < heads; ++h) {
    float* qh = q_host.data() + h * dim;
    for (int64_t i = 0; i < dim; ++i) qh[i] = normal(rng);
    codec.encode(qh, q_codes.data(), q_codes.data() + 64);
    codec.decode(q_codes.data(), q_codes.data() + 64, qh);
  }
  DeviceBytes ptrs(page_ptrs.size() * sizeof(void*)), seq(sizeof(cuda::SequenceKeys)), row_seq(4), pos(8),
      q(heads * dim * 4), w(heads * 4), scores(static_cast<size_t>(entries * 4)), picks(512 * 4),
      counts(cuda::kIndexerTopDigits * sizeof(int));
  upload(ptrs, page_ptrs.data(), ptrs.bytes);
  cuda::SequenceKeys s;
  s.entries = {cuda::device_codec(codec), ptrs.as<const uint8_t*>(), 64};
  s.entry_count = entries;
  s.ratio = 4;
  upload(seq, &s, seq.bytes);
  const int32_t zero = 0;
  const int64_t position = context - 1;
  upload(row_seq, &zero, 4);
  upload(pos, &position, 8);
  upload(q, q_host.data(), q.bytes);
  fill_random_floats(w, rng);
  cuda::IndexerLaunch a;
  a.q = q.as<float>();
  a.ldq = heads * dim;
  a.rows = 1;
  a.heads = heads;
  a.dim = dim;
  a.head_weights = w.as<float>();
  a.ldw = heads;
  a.row_sequence = row_seq.as<int32_t>();
  a.sequences = seq.as<cuda::SequenceKeys>();
  a.keys = s.entries.codec;
  a.positions = pos.as<int64_t>();
  a.scale = 0.01f;
  a.most = entries;
  a.picks = picks.as<int32_t>();
  a.ld_picks = 512;
  a.k = 512;
  const double score_us = time_per_call_us(
      [&](cudaStream_t st, int) {
        check(cuda::session_indexer_scores(a, scores.as<float>(), counts.as<int>(), st), "scores");
      },
      10);
  const double select_us = time_per_call_us(
      [&](cudaStream_t st, int) {
        check(cuda::session_indexer_select(a, scores.as<float>(), counts.as<int>(), st), "select");
      },
      10);
  // The same with queries off any int8 grid (raw fp32): every (head, key) in the CPU's order on CUDA cores.
  fill_random_floats(q, rng);
  const double fallback_us = time_per_call_us(
      [&](cudaStream_t st, int) {
        check(cuda::session_indexer_scores(a, scores.as<float>(), counts.as<int>(), st), "scores");
      },
      10);
  char name[200];
  std::snprintf(name, sizeof name, "session indexer ctx=%ld: scores %.2f + select %.2f us (off-grid queries' scores %.2f)",
                long(context), score_us, select_us, fallback_us);
  report(name, score_us + select_us, entries * 68.0 / bandwidth * 1e6);
}

// The backend's own attention (the model's decode path) over the same stored rows: fp32 queries, a window
// ring of 128 rows and the layer's entries (every one for HCA, the picks for CSA) named through page
// pointers, its parts and their combine; on tensor cores (paper_attention.cu, what the backend runs for
// paper rows) or on the CUDA cores (session_kernels.cu's general kernel, what it runs for other formats).
double session_attention_us(const DeviceBytes& q, const DeviceBytes& sinks, const DeviceBytes& ring,
                            const DeviceBytes& pool, int64_t entries, const DeviceBytes* picks, int64_t pick_cols,
                            int64_t context, bool tensor_cores, DeviceBytes& out) {
  const int64_t heads = 64, window = 128, pages = (entries + 63) / 64;
  const cuda::DeviceCodec paper{1, 512, 64, 576, 8};
  std::vector<const uint8_t*> page_ptrs;
  for (int64_t p = 0; p < pages; ++p) page_ptrs.push_back(pool.as<uint8_t>() + p * 64 * 584);
  const uint8_t* ring_page = ring.as<uint8_t>();
  DeviceBytes ptrs(page_ptrs.size() * sizeof(void*)), ring_ptr(sizeof(void*)), seq(sizeof(cuda::SequenceKeys)),
      row_seq(4), pos(8);
  upload(ptrs, page_ptrs.data(), ptrs.bytes);
  upload(ring_ptr, &ring_page, ring_ptr.bytes);
  cuda::SequenceKeys s;
  s.ring = {paper, ring_ptr.as<const uint8_t*>(), window};
  s.window = window;
  s.start = context;  // every window key comes from the ring
  s.entries = {paper, ptrs.as<const uint8_t*>(), 64};
  s.entry_count = entries;
  s.ratio = picks ? 4 : 128;
  upload(seq, &s, seq.bytes);
  const int32_t zero = 0;
  const int64_t position = context - 1;
  upload(row_seq, &zero, 4);
  upload(pos, &position, 8);
  cuda::AttentionLaunch a;
  a.q = q.as<float>();
  a.ldq = heads * 512;
  a.rows = 1;
  a.heads = heads;
  a.head_dim = 512;
  a.row_sequence = row_seq.as<int32_t>();
  a.sequences = seq.as<cuda::SequenceKeys>();
  a.positions = pos.as<int64_t>();
  if (picks) a.picks = picks->as<int32_t>(), a.ld_picks = pick_cols, a.pick_cols = pick_cols;
  a.sinks = sinks.as<float>();
  a.scale = 1.0f / std::sqrt(512.0f);
  a.out = out.as<float>();
  a.ldo = heads * 512;
  a.tensor_cores = tensor_cores;
  a.splits = cuda::attention_splits(window + (picks ? pick_cols : entries), tensor_cores);
  DeviceBytes partials(static_cast<size_t>(cuda::attention_partials_floats(1, heads, 512, a.splits, tensor_cores) * 4));
  a.partials = partials.as<float>();
  return time_per_call_us(
      [&](cudaStream_t st, int) { check(cuda::session_attention(a, st), "session attention"); }, 10);
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
        bench_session_indexer(bandwidth, context, rng);
      }
      const double attn_us = time_per_call_us(
          [&](cudaStream_t st, int) {
            check(cuda::sparse_decode_attention(a, ws.ptr, ws_bytes, st), "attention");
          },
          10);
      const double bytes = (window + attended) * 584.0 + (csa ? entries * 68.0 : 0.0);
      for (const bool tensor_cores : {false, true}) {
        const double session_us = session_attention_us(q, sinks, win_pool, pool, entries, csa ? &list : nullptr,
                                                       top_k, context, tensor_cores, out);
        char session_name[160];
        std::snprintf(session_name, sizeof session_name, "session attention %s ctx=%ld on %s; SDPA %.1f us -> %.1fx",
                      csa ? "CSA" : "HCA", long(context), tensor_cores ? "tensor cores" : "CUDA cores", sdpa_us,
                      sdpa_us / session_us);
        report(session_name, session_us, (window + attended) * 584.0 / bandwidth * 1e6);
      }
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
  std::string only;  // --only SECTION: weight_matmul, expert_mix, fp8, moe, attention or token_ops
  std::vector<std::pair<int64_t, double>> sdpa;  // --sdpa-us CONTEXT:US,… from bench/cuda/peers.py
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--fp8-peak-tflops") == 0) fp8_peak_tflops = std::atof(argv[i + 1]);
    if (std::strcmp(argv[i], "--only") == 0) only = argv[i + 1];
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
  const auto run = [&](const char* section) { return only.empty() || only == section; };
  if (run("weight_matmul")) bench_weight_matmul(bandwidth);
  if (run("expert_mix")) bench_expert_mix(bandwidth);
  if (run("fp8")) bench_fp8_decode(bandwidth);
  if (run("fp8") && fp8_peak_tflops > 0) bench_fp8_prefill(fp8_peak_tflops * 1e12);
  if (run("moe")) bench_moe(bandwidth);
  if (run("attention")) bench_attention(bandwidth, sdpa);
  if (run("token_ops")) bench_token_ops(bandwidth);
  return 0;
}
