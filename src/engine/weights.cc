#include "engine/weights.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace baleen {
namespace {

class Filler {
 public:
  explicit Filler(uint64_t seed) : rng_(seed) {}

  Tensor normal(std::vector<int64_t> shape, float stddev, float mean = 0.0f) {
    Tensor t(std::move(shape));
    std::normal_distribution<float> dist(mean, stddev);
    for (float& v : t.values()) v = dist(rng_);
    return t;
  }
  // A linear layer [out, in] with unit-variance outputs on unit-variance inputs.
  Tensor linear(int64_t out, int64_t in) { return normal({out, in}, 1.0f / std::sqrt(float(in))); }
  Tensor gain(int64_t n) { return normal({n}, 0.1f, 1.0f); }
  std::mt19937_64& rng() { return rng_; }

 private:
  std::mt19937_64 rng_;
};

CompressorWeights random_compressor(Filler& f, const Config& c, int64_t width, int64_t ratio, bool overlap) {
  const int64_t w = (overlap ? 2 : 1) * width;
  return {f.linear(w, c.hidden_size), f.linear(w, c.hidden_size), f.normal({ratio, w}, 0.5f), f.gain(width)};
}

AttentionWeights random_attention(Filler& f, const Config& c, const LayerSpec& layer) {
  const int64_t hd = c.num_heads * c.head_dim, D = c.hidden_size;
  AttentionWeights a{f.linear(c.q_lora_rank, D),
                     f.gain(c.q_lora_rank),
                     f.linear(hd, c.q_lora_rank),
                     f.linear(c.head_dim, D),
                     f.gain(c.head_dim),
                     f.linear(c.o_groups * c.o_lora_rank, hd / c.o_groups),
                     f.linear(D, c.o_groups * c.o_lora_rank),
                     f.normal({c.num_heads}, 1.0f),
                     std::nullopt,
                     std::nullopt};
  const AttentionKind kind = attention_kind(layer);
  if (kind == AttentionKind::kSliding) return a;
  const bool csa = kind == AttentionKind::kCsa;
  a.compressor = random_compressor(f, c, c.head_dim, layer.compress_ratio, csa);
  if (csa) {
    a.indexer = IndexerWeights{f.linear(c.index_n_heads * c.index_head_dim, c.q_lora_rank),
                               f.linear(c.index_n_heads, D),
                               random_compressor(f, c, c.index_head_dim, layer.compress_ratio, true)};
  }
  return a;
}

ExpertTensors random_expert(Filler& f, int64_t d, int64_t hidden) {
  return {f.linear(hidden, d), f.linear(d, hidden), f.linear(hidden, d)};
}

MoeWeights random_moe(Filler& f, const Config& c, const LayerSpec& layer) {
  const int64_t E = c.n_routed_experts, K = c.n_activated_experts, D = c.hidden_size;
  MoeWeights m;
  m.gate = f.normal({E, D}, 1.5f / std::sqrt(float(D)));
  if (layer.routing == MoeRouting::kHash) {
    std::vector<int32_t> ids(static_cast<size_t>(E));
    std::iota(ids.begin(), ids.end(), 0);
    for (int64_t v = 0; v < c.vocab_size; ++v) {
      std::shuffle(ids.begin(), ids.end(), f.rng());
      m.tid2eid.insert(m.tid2eid.end(), ids.begin(), ids.begin() + K);
    }
  } else {
    m.bias = f.normal({E}, 0.3f);
  }
  for (int64_t e = 0; e < E; ++e) m.experts.push_back(random_expert(f, D, c.moe_inter_dim));
  m.shared = random_expert(f, D, c.moe_inter_dim * std::max<int64_t>(1, c.n_shared_experts));
  return m;
}

HyperConnectionWeights random_hc(Filler& f, const Config& c, int64_t outputs, int64_t scales) {
  const int64_t len = c.hc_mult * c.hidden_size;
  Tensor scale = f.normal({scales}, 0.25f, 1.0f);
  return {f.normal({outputs, len}, 1.0f / std::sqrt(float(len))), f.normal({outputs}, 0.5f),
          std::move(scale)};
}

}  // namespace

AttentionKind attention_kind(const LayerSpec& layer) {
  if (layer.compress_ratio == 0) return AttentionKind::kSliding;
  return layer.compress_ratio == 4 ? AttentionKind::kCsa : AttentionKind::kHca;
}

ModelWeights random_weights(const Config& c, uint64_t seed) {
  Filler f(seed);
  const int64_t n = c.hc_mult, D = c.hidden_size;
  ModelWeights w;
  w.embed = f.normal({c.vocab_size, D}, 1.0f);
  for (const LayerSpec& layer : c.layers) {
    LayerWeights l;
    l.hc_attn = random_hc(f, c, (2 + n) * n, 3);
    l.hc_ffn = random_hc(f, c, (2 + n) * n, 3);
    l.attn_norm = f.gain(D);
    l.ffn_norm = f.gain(D);
    l.attn = random_attention(f, c, layer);
    l.ffn = random_moe(f, c, layer);
    w.layers.push_back(std::move(l));
  }
  w.hc_head = random_hc(f, c, n, 1);
  w.norm = f.gain(D);
  w.head = f.normal({c.vocab_size, D}, 2.5f / std::sqrt(float(D)));
  return w;
}

}  // namespace baleen
