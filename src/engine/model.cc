#include "engine/model.h"

#include <algorithm>

#include "core/error.h"
#include "engine/attention.h"
#include "engine/rotary.h"

namespace baleen {
namespace {

void expect_shape(const Tensor& t, std::vector<int64_t> shape, const std::string& name) {
  check(t.shape() == shape, "weight {}: expected shape [{}], got [{}]", name, fmt::join(shape, ", "),
        fmt::join(t.shape(), ", "));
}

void check_attention(const Config& c, const LayerSpec& spec, const AttentionWeights& a,
                     const std::string& p) {
  const int64_t hd = c.num_heads * c.head_dim, D = c.hidden_size;
  expect_shape(a.wq_a, {c.q_lora_rank, D}, p + "wq_a");
  expect_shape(a.wq_b, {hd, c.q_lora_rank}, p + "wq_b");
  expect_shape(a.wkv, {c.head_dim, D}, p + "wkv");
  expect_shape(a.wo_a, {c.o_groups * c.o_lora_rank, hd / c.o_groups}, p + "wo_a");
  expect_shape(a.wo_b, {D, c.o_groups * c.o_lora_rank}, p + "wo_b");
  expect_shape(a.sinks, {c.num_heads}, p + "attn_sink");
  const AttentionKind kind = spec.attention();
  check(a.compressor.has_value() == (kind != AttentionKind::kSliding),
        "{}compressor: present on exactly the "
        "CSA/HCA layers (compress_ratio {})",
        p, spec.compress_ratio);
  check(a.indexer.has_value() == (kind == AttentionKind::kCsa),
        "{}indexer: present on exactly the CSA layers", p);
  if (a.compressor) {
    const int64_t w = (kind == AttentionKind::kCsa ? 2 : 1) * c.head_dim;
    expect_shape(a.compressor->wkv, {w, D}, p + "compressor.wkv");
    expect_shape(a.compressor->ape, {spec.compress_ratio, w}, p + "compressor.ape");
  }
  if (a.indexer) {
    expect_shape(a.indexer->wq_b, {c.index_n_heads * c.index_head_dim, c.q_lora_rank}, p + "indexer.wq_b");
    expect_shape(a.indexer->compressor.ape, {spec.compress_ratio, 2 * c.index_head_dim},
                 p + "indexer.compressor.ape");
  }
}

void check_weights(const Config& c, const ModelWeights& w) {
  check(c.layers.size() == w.layers.size(), "weights have {} layers, config {}", w.layers.size(),
        c.layers.size());
  // The CPU kernels keep per-token scratch on the stack, sized by these limits.
  check(c.hc_mult >= 1 && c.hc_mult <= 8, "hc_mult {} outside the supported 1..8 streams", c.hc_mult);
  check(c.num_heads <= 1024, "num_heads {} exceeds the supported 1024", c.num_heads);
  check(c.n_routed_experts <= 1024, "n_routed_experts {} exceeds the supported 1024", c.n_routed_experts);
  check(c.o_groups > 0 && (c.num_heads * c.head_dim) % c.o_groups == 0, "o_groups {} must divide H·d = {}",
        c.o_groups, c.num_heads * c.head_dim);
  check(c.rope_head_dim % 2 == 0 && c.rope_head_dim <= c.head_dim && c.rope_head_dim <= 512,
        "rope_head_dim {} must be even, at most head_dim {} and 512", c.rope_head_dim, c.head_dim);
  expect_shape(w.embed, {c.vocab_size, c.hidden_size}, "embed.weight");
  expect_shape(w.head, {c.vocab_size, c.hidden_size}, "head.weight");
  for (size_t i = 0; i < w.layers.size(); ++i) {
    check(c.layers[i].attention() != AttentionKind::kCsa || c.rope_head_dim <= c.index_head_dim,
          "layer {}: rope_head_dim {} exceeds index_head_dim {}", i, c.rope_head_dim, c.index_head_dim);
    const LayerWeights& l = w.layers[i];
    const std::string p = fmt::format("layers.{}.", i);
    check_attention(c, c.layers[i], l.attn, p + "attn.");
    expect_shape(l.ffn.gate, {c.n_routed_experts, c.hidden_size}, p + "ffn.gate.weight");
    check(static_cast<int64_t>(l.ffn.experts.size()) == c.n_routed_experts,
          "{}ffn.experts: expected {}, got {}", p, c.n_routed_experts, l.ffn.experts.size());
    const bool hash = c.layers[i].routing == MoeRouting::kHash;
    check(!hash || static_cast<int64_t>(l.ffn.tid2eid.size()) == c.vocab_size * c.n_activated_experts,
          "{}ffn.gate.tid2eid: expected [{}, {}]", p, c.vocab_size, c.n_activated_experts);
    for (int32_t e : l.ffn.tid2eid)
      check(e >= 0 && e < c.n_routed_experts, "{}ffn.gate.tid2eid: expert {} out of range", p, e);
  }
}

}  // namespace

Model::Model(const Config& config, const ModelWeights& weights, Backend& backend)
    : config_(config),
      weights_(weights),
      backend_(backend),
      main_freq_(main_inv_freq(config)),
      compress_freq_(compress_inv_freq(config)) {
  check_weights(config_, weights_);
  check(backend_.supports(DType::kF32), "backend {} cannot multiply fp32 weights", backend_.name());
  for (const LayerWeights& l : weights_.layers) moe_views_.push_back(moe_views(l.ffn));
  // At least half zero rows before the packed head pays for its scatter; real checkpoints have none.
  sparse_head_ = SparseRows::detect(weights_.head, 0.5);
}

HyperConnectionParams Model::hc_params(const HyperConnectionWeights& w) const {
  return {w.fn.data(),
          w.base.data(),
          w.scale.data(),
          config_.hc_mult,
          config_.hidden_size,
          config_.hc_sinkhorn_iters,
          static_cast<float>(config_.hc_eps),
          static_cast<float>(config_.rms_norm_eps)};
}

// spec "Residual streams (mHC)": each sublayer reads the streams' collapse and writes back through post/comb.
void Model::layer_forward(size_t i, std::span<const int32_t> tokens, SessionState& state) {
  const Config& c = config_;
  const LayerWeights& lw = weights_.layers[i];
  const int64_t T = static_cast<int64_t>(tokens.size()), n = c.hc_mult, D = c.hidden_size;
  const float eps = static_cast<float>(c.rms_norm_eps);
  MatrixView<float> x = ws_.matrix(Buf::kX, T, D), h = ws_.matrix(Buf::kH, T, D);
  MatrixView<float> post = ws_.matrix(Buf::kPost, T, n), comb = ws_.matrix(Buf::kComb, T, n * n);
  MatrixView<float> y = ws_.matrix(Buf::kSublayerOut, T, D);
  auto site = [&](const HyperConnectionWeights& hc, const Tensor& norm, auto&& sublayer) {
    MatrixView<float> streams = ws_.matrix(Buf::kStreams, T, n * D),
                      next = ws_.matrix(Buf::kStreamsNext, T, n * D);
    backend_.hc_pre(streams, hc_params(hc), x, post, comb);
    backend_.rms_norm(x, norm.data(), eps, h);
    sublayer();
    backend_.hc_post(y, post, comb, streams, next);
    std::copy(next.data, next.data + T * n * D, streams.data);
  };
  const bool compressed = c.layers[i].attention() != AttentionKind::kSliding;
  const RopeFrequencies main{main_freq_.data(), c.rope_head_dim},
      comp{compress_freq_.data(), c.rope_head_dim};
  const AttentionContext actx{
      c, backend_, ws_, compressed ? comp : main, comp, state.storage() == StateStorage::kPaper};
  site(lw.hc_attn, lw.attn_norm,
       [&] { attention_forward(actx, c.layers[i], lw.attn, h, positions_.data(), state.layer(i), y); });
  site(lw.hc_ffn, lw.ffn_norm, [&] { moe_forward(c, backend_, ws_, lw.ffn, moe_views_[i], h, tokens, y); });
}

Tensor Model::forward(std::span<const int32_t> tokens, SessionState& state, LogitRows rows) {
  const Config& c = config_;
  const int64_t T = static_cast<int64_t>(tokens.size()), n = c.hc_mult, D = c.hidden_size;
  check(state.layer_count() == c.layers.size(), "session state has {} layers, the model {}",
        state.layer_count(), c.layers.size());
  const int64_t first = rows == LogitRows::kLast ? std::max<int64_t>(T - 1, 0) : 0, R = T - first;
  Tensor logits({R, c.vocab_size});
  if (T == 0) return logits;
  MatrixView<float> streams = ws_.matrix(Buf::kStreams, T, n * D);
  positions_.resize(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) {
    const int32_t id = tokens[static_cast<size_t>(t)];
    check(id >= 0 && id < c.vocab_size, "token id {} at index {} is outside the vocabulary [0, {})", id, t,
          c.vocab_size);
    positions_[static_cast<size_t>(t)] = state.length() + t;
    for (int64_t j = 0; j < n; ++j) {  // every stream starts as the token's embedding
      std::copy(weights_.embed.data() + int64_t{id} * D, weights_.embed.data() + (int64_t{id} + 1) * D,
                streams.row(t) + j * D);
    }
  }
  for (size_t i = 0; i < c.layers.size(); ++i) layer_forward(i, tokens, state);
  // Final head on the rows that get logits: collapse the streams, RMSNorm, project to the vocabulary.
  MatrixView<float> y = ws_.matrix(Buf::kX, R, D);
  backend_.hc_head(ws_.matrix(Buf::kStreams, T, n * D).rows_slice(first, R), hc_params(weights_.hc_head), y);
  backend_.rms_norm(y, weights_.norm.data(), static_cast<float>(c.rms_norm_eps), y);
  if (sparse_head_) {
    sparse_head_->matmul(backend_, y, ws_.matrix(Buf::kHeadRows, R, sparse_head_->kept()), logits.matrix());
  } else {
    backend_.matmul(y, weight_view(weights_.head), logits.matrix());
  }
  state.advance(T);
  return logits;
}

Tensor Model::prefill(std::span<const int32_t> tokens, SessionState& state, int64_t chunk, LogitRows rows,
                      const std::function<void(int64_t, int64_t)>& progress) {
  check(chunk > 0, "prefill chunk must be positive, got {}", chunk);
  const int64_t T = static_cast<int64_t>(tokens.size());
  Tensor logits({rows == LogitRows::kLast ? std::min<int64_t>(T, 1) : T, config_.vocab_size});
  for (int64_t done = 0; done < T;) {
    const int64_t n = std::min(chunk, T - done);
    Tensor part = forward(tokens.subspan(static_cast<size_t>(done), static_cast<size_t>(n)), state, rows);
    float* to = rows == LogitRows::kLast ? logits.data() : logits.data() + done * config_.vocab_size;
    std::copy(part.data(), part.data() + part.size(), to);
    done += n;
    if (progress) progress(done, T);
  }
  return logits;
}

}  // namespace baleen
