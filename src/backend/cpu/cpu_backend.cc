// The CPU backend: dispatches each op's fast kernel over the thread pool.
#include <algorithm>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/attention.h"
#include "backend/cpu/compressor_pool.h"
#include "backend/cpu/hadamard.h"
#include "backend/cpu/hyper_connections.h"
#include "backend/cpu/indexer.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/moe.h"
#include "backend/cpu/rms_norm.h"
#include "backend/cpu/rope.h"
#include "core/thread_pool.h"

namespace baleen {
namespace {

// Grows `v` to at least n elements (the only allocation, on first use of a larger shape).
template <typename T>
T* scratch(std::vector<T>& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
  return v.data();
}

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(unsigned threads) : pool_(threads) {}

  std::string_view name() const override { return "cpu"; }
  bool supports(DType weight_dtype) const override {
    return weight_dtype == DType::kF32 || weight_dtype == DType::kBF16 || weight_dtype == DType::kF8E4M3 ||
           weight_dtype == DType::kF4E2M1x2;
  }

  void matmul(MatrixView<const float> x, const WeightView& w, MatrixView<float> y) override {
    // Columns in multiples of 4 (the kernel's tile) so that threads split whole tiles.
    pool_.parallel_for((w.rows + 3) / 4, 8, [&](int64_t b, int64_t e) {
      cpu::matmul_columns(x, w, y, b * 4, std::min(w.rows, e * 4));
    });
  }

  void grouped_matmul(MatrixView<const float> x, const WeightView& w, int64_t groups,
                      MatrixView<float> y) override {
    const int64_t out_g = w.rows / groups, in_g = x.cols / groups, tiles = (out_g + 3) / 4;
    for (int64_t g = 0; g < groups; ++g)
      weight_row_slice(w, g * out_g, out_g);  // throws before any thread runs
    pool_.parallel_for(groups * tiles, 8, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const int64_t g = i / tiles, o = (i % tiles) * 4;
        MatrixView<const float> xg{x.data + g * in_g, x.rows, in_g, x.stride};
        MatrixView<float> yg{y.data + g * out_g, y.rows, out_g, y.stride};
        cpu::matmul_columns(xg, weight_row_slice(w, g * out_g, out_g), yg, o, std::min(out_g, o + 4));
      }
    });
  }

  void rms_norm(MatrixView<const float> x, const float* weight, float eps, MatrixView<float> y) override {
    pool_.parallel_for(x.rows, 16,
                       [&](int64_t b, int64_t e) { cpu::rms_norm_rows(x, weight, eps, y, b, e); });
  }

  void rope(MatrixView<float> x, int64_t head_dim, const int64_t* positions, const RopeFrequencies& f,
            bool inverse) override {
    pool_.parallel_for(
        x.rows, 8, [&](int64_t b, int64_t e) { cpu::rope_rows(x, head_dim, positions, f, inverse, b, e); });
  }

  void hadamard(MatrixView<float> x) override {
    pool_.parallel_for(x.rows, 16, [&](int64_t b, int64_t e) { cpu::hadamard_rows(x, b, e); });
  }

  void hc_pre(MatrixView<const float> streams, const HyperConnectionParams& p, MatrixView<float> x,
              MatrixView<float> post, MatrixView<float> comb) override {
    pool_.parallel_for(streams.rows, 1,
                       [&](int64_t b, int64_t e) { cpu::hc_pre_rows(streams, p, x, post, comb, b, e); });
  }

  void hc_post(MatrixView<const float> y, MatrixView<const float> post, MatrixView<const float> comb,
               MatrixView<const float> streams, MatrixView<float> out) override {
    pool_.parallel_for(y.rows, 1,
                       [&](int64_t b, int64_t e) { cpu::hc_post_rows(y, post, comb, streams, out, b, e); });
  }

  void hc_head(MatrixView<const float> streams, const HyperConnectionParams& p,
               MatrixView<float> y) override {
    pool_.parallel_for(streams.rows, 1,
                       [&](int64_t b, int64_t e) { cpu::hc_head_rows(streams, p, y, b, e); });
  }

  void compressor_pool(MatrixView<const float> kv, MatrixView<const float> gate, int64_t slots,
                       MatrixView<float> entries) override {
    pool_.parallel_for(entries.rows, 1, [&](int64_t b, int64_t e) {
      cpu::compressor_pool_entries(kv, gate, slots, entries, b, e);
    });
  }

  void indexer_top_k(MatrixView<const float> q, MatrixView<const float> head_weights,
                     MatrixView<const float> keys, const int64_t* positions, int64_t ratio, float scale,
                     MatrixView<float> scores, MatrixView<int32_t> picks) override {
    const int64_t parts = std::min<int64_t>(pool_.size(), q.rows), n = std::max<int64_t>(keys.rows, 1);
    int32_t* order = scratch(order_, parts * n);
    pool_.parallel_for(parts, 1, [&](int64_t b, int64_t e) {
      for (int64_t part = b; part < e; ++part) {
        const int64_t t0 = q.rows * part / parts, t1 = q.rows * (part + 1) / parts;
        cpu::indexer_top_k_rows(q, head_weights, keys, positions, ratio, scale, scores, picks,
                                {order + part * n, static_cast<size_t>(n)}, t0, t1);
      }
    });
  }

  void attention(MatrixView<const float> q, int64_t heads, const AttentionKeys& keys,
                 const int64_t* positions, const float* sinks, float scale, MatrixView<float> out) override {
    if (q.rows >= static_cast<int64_t>(pool_.size())) {
      pool_.parallel_for(q.rows, 1, [&](int64_t b, int64_t e) {
        cpu::attention_rows(q, heads, keys, positions, sinks, scale, out, b, e, 0, heads);
      });
    } else {  // decode: split the heads instead
      pool_.parallel_for(heads, 1, [&](int64_t b, int64_t e) {
        cpu::attention_rows(q, heads, keys, positions, sinks, scale, out, 0, q.rows, b, e);
      });
    }
  }

  void moe_route(MatrixView<const float> logits, const float* bias, const int32_t* tid2eid,
                 const int32_t* tokens, float scaling, MatrixView<int32_t> experts,
                 MatrixView<float> weights) override {
    cpu::moe_route_rows(logits, bias, tid2eid, tokens, scaling, experts, weights, 0, logits.rows);
  }

  void moe_experts(MatrixView<const float> x, const MoeRoutes& routes, std::span<const ExpertWeights> experts,
                   float limit, MatrixView<float> out) override;

 private:
  ThreadPool pool_;
  std::vector<int32_t> order_;
  std::vector<int64_t> members_;  // (token, slot) pairs routed to one expert
  std::vector<float> gathered_, hidden_gate_, hidden_up_, expert_out_;
};

// Tokens are grouped per expert so each expert's weights are read once per call.
void CpuBackend::moe_experts(MatrixView<const float> x, const MoeRoutes& routes,
                             std::span<const ExpertWeights> experts, float limit, MatrixView<float> out) {
  const int64_t tokens = x.rows, k = routes.experts.cols, d = x.cols;
  int64_t* members = scratch(members_, tokens * k);
  for (size_t e = 0; e < experts.size(); ++e) {
    int64_t n = 0;
    for (int64_t t = 0; t < tokens; ++t) {
      for (int64_t s = 0; s < k; ++s) {
        if (routes.experts(t, s) == static_cast<int32_t>(e)) members[n++] = t * k + s;
      }
    }
    if (n == 0) continue;
    const ExpertWeights& w = experts[e];
    const int64_t f = w.w1.rows;
    MatrixView<float> gx{scratch(gathered_, n * d), n, d};
    MatrixView<float> hg{scratch(hidden_gate_, n * f), n, f};
    MatrixView<float> hu{scratch(hidden_up_, n * f), n, f};
    MatrixView<float> y{scratch(expert_out_, n * d), n, d};
    for (int64_t i = 0; i < n; ++i) std::copy(x.row(members[i] / k), x.row(members[i] / k) + d, gx.row(i));
    matmul(gx, w.w1, hg);
    matmul(gx, w.w3, hu);
    for (int64_t i = 0; i < n; ++i) cpu::swiglu(hg.row(i), hu.row(i), f, limit);
    matmul(hg, w.w2, y);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t t = members[i] / k, s = members[i] % k;
      const float weight = routes.weights(t, s);
      float* o = out.row(t);
      for (int64_t c = 0; c < d; ++c) o[c] += weight * y(i, c);
    }
  }
}

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(unsigned threads) {
  return std::make_unique<CpuBackend>(threads);
}

}  // namespace baleen
