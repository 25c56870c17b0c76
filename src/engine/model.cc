#include "engine/model.h"

#include <algorithm>

#include "core/error.h"
#include "engine/attention.h"
#include "engine/moe.h"
#include "engine/rotary.h"

namespace baleen {
namespace {

void check_config(const Config& c) {
  check(c.o_groups > 0 && (c.num_heads * c.head_dim) % c.o_groups == 0, "o_groups {} must divide H·d = {}",
        c.o_groups, c.num_heads * c.head_dim);
  check(c.rope_head_dim % 2 == 0 && c.rope_head_dim <= c.head_dim, "rope_head_dim {} must be even and at most head_dim {}",
        c.rope_head_dim, c.head_dim);
  for (size_t i = 0; i < c.layers.size(); ++i) {
    check(c.layers[i].attention() != AttentionKind::kCsa || c.rope_head_dim <= c.index_head_dim,
          "layer {}: rope_head_dim {} exceeds index_head_dim {}", i, c.rope_head_dim, c.index_head_dim);
  }
}

const float* upload_floats(Backend& backend, const std::vector<float>& v) {
  return static_cast<const float*>(backend.upload(v.data(), static_cast<int64_t>(v.size()) * 4));
}

}  // namespace

Model::Model(const Config& config, const ModelWeights& weights, Backend& backend)
    : Model(config, upload_weights(config, weights, backend), backend) {}

Model::Model(const Config& config, BackendWeights weights, Backend& backend)
    : config_(config), backend_(backend), weights_(std::move(weights)), ws_(backend) {
  check_config(config_);
  backend_.check_config(config_);
  check(weights_.layers.size() == config_.layers.size(), "weights have {} layers, config {}",
        weights_.layers.size(), config_.layers.size());
  main_freq_ = upload_floats(backend_, main_inv_freq(config_));
  compress_freq_ = upload_floats(backend_, compress_inv_freq(config_));
  fp32_spec_ = state_spec(config_, StateStorage::kFp32);
  paper_spec_ = state_spec(config_, StateStorage::kPaper);
}

HyperConnectionParams Model::hc_params(const BackendWeights::HyperConnection& w) const {
  return {w.fn,
          w.base,
          w.scale,
          config_.hc_mult,
          config_.hidden_size,
          config_.hc_sinkhorn_iters,
          static_cast<float>(config_.hc_eps),
          static_cast<float>(config_.rms_norm_eps)};
}

// spec "Residual streams (mHC)": each sublayer reads the streams' collapse and writes back through post/comb.
void Model::layer_forward(size_t i, const Step& step, bool paper) {
  const Config& c = config_;
  const BackendWeights::Layer& lw = weights_.layers[i];
  const int64_t T = step.rows, n = c.hc_mult, D = c.hidden_size;
  const float eps = static_cast<float>(c.rms_norm_eps);
  MatrixView<float> x = ws_.matrix(Buf::kX, T, D), h = ws_.matrix(Buf::kH, T, D);
  MatrixView<float> post = ws_.matrix(Buf::kPost, T, n), comb = ws_.matrix(Buf::kComb, T, n * n);
  MatrixView<float> y = ws_.matrix(Buf::kSublayerOut, T, D);
  auto site = [&](const BackendWeights::HyperConnection& hc, const float* norm, auto&& sublayer) {
    MatrixView<float> streams = ws_.matrix(Buf::kStreams, T, n * D),
                      next = ws_.matrix(Buf::kStreamsNext, T, n * D);
    backend_.hc_pre(streams, hc_params(hc), x, post, comb);
    backend_.rms_norm(x, norm, eps, h);
    sublayer();
    backend_.hc_post(y, post, comb, streams, next);
    ws_.swap_streams();
  };
  const bool compressed = c.layers[i].attention() != AttentionKind::kSliding;
  const RopeFrequencies main{main_freq_, c.rope_head_dim}, comp{compress_freq_, c.rope_head_dim};
  const StateSpec& spec = paper ? paper_spec_ : fp32_spec_;
  const LayerContext ctx{c,    backend_, step, ws_, static_cast<int64_t>(i), compressed ? comp : main, comp,
                         spec.layers[i], paper};
  site(lw.hc_attn, lw.attn_norm, [&] { attention_forward(ctx, c.layers[i], lw.attn, h, y); });
  site(lw.hc_ffn, lw.ffn_norm, [&] { moe_forward(c, backend_, ws_, lw.ffn, h, step.tokens, y); });
}

Step Model::begin_step(std::span<const BatchSequence> batch, bool& paper) {
  tokens_.clear();
  logit_rows_.clear();
  sequences_.clear();
  for (size_t s = 0; s < batch.size(); ++s) {
    const BatchSequence& b = batch[s];
    check(&b.state->backend() == &backend_, "sequence {}: its session state lives on another backend", s);
    if (s == 0) paper = b.state->storage() == StateStorage::kPaper;
    check((b.state->storage() == StateStorage::kPaper) == paper,
          "sequence {}: sessions of one forward must share a storage mode", s);
    if (b.tokens.empty()) continue;
    const auto first = static_cast<int64_t>(tokens_.size()), rows = static_cast<int64_t>(b.tokens.size());
    for (size_t t = 0; t < b.tokens.size(); ++t) {
      const int32_t id = b.tokens[t];
      check(id >= 0 && id < config_.vocab_size, "token id {} at index {} is outside the vocabulary [0, {})", id, t,
            config_.vocab_size);
      tokens_.push_back(id);
    }
    sequences_.push_back({b.state->id(), first, rows, b.state->length()});
    if (b.logits == LogitRows::kAll) {
      for (int64_t r = 0; r < rows; ++r) logit_rows_.push_back(static_cast<int32_t>(first + r));
    } else if (b.logits == LogitRows::kLast) {
      logit_rows_.push_back(static_cast<int32_t>(first + rows - 1));
    }
  }
  return backend_.begin_step({tokens_, sequences_, logit_rows_});
}

Tensor Model::forward(std::span<const BatchSequence> batch) {
  const Config& c = config_;
  bool paper = false;
  const Step step = begin_step(batch, paper);
  const int64_t T = step.rows, n = c.hc_mult, D = c.hidden_size, R = step.logit_count;
  if (T == 0) return Tensor({R, c.vocab_size});
  backend_.embed(step.tokens, weights_.embed, n, ws_.matrix(Buf::kStreams, T, n * D));
  for (size_t i = 0; i < c.layers.size(); ++i) layer_forward(i, step, paper);
  // Allocated once the layers are queued (a device backend runs them meanwhile), before any state advances.
  Tensor logits({R, c.vocab_size});
  for (const BatchSequence& b : batch) b.state->advance(static_cast<int64_t>(b.tokens.size()));
  if (R == 0) return logits;
  // Final head on the rows that get logits: collapse the streams, RMSNorm, project to the vocabulary.
  MatrixView<float> rows = ws_.matrix(Buf::kHeadIn, R, n * D);
  backend_.gather_rows(ws_.matrix(Buf::kStreams, T, n * D), step.logit_rows, rows);
  MatrixView<float> y = ws_.matrix(Buf::kX, R, D);
  backend_.hc_head(rows, hc_params(weights_.hc_head), y);
  backend_.rms_norm(y, weights_.norm, static_cast<float>(c.rms_norm_eps), y);
  MatrixView<float> out = ws_.matrix(Buf::kLogits, R, c.vocab_size);
  if (weights_.head_rows) {
    backend_.matmul_kept_rows(y, weights_.head_rows->packed, weights_.head_rows->rows, weights_.head, out);
  } else {
    backend_.matmul(y, weights_.head, out);
  }
  backend_.download(out.data, logits.data(), logits.size() * 4);
  return logits;
}

Tensor Model::forward(std::span<const int32_t> tokens, SessionState& state, LogitRows rows) {
  check(state.usage().entries.size() == config_.layers.size(), "session state has {} layers, the model {}",
        state.usage().entries.size(), config_.layers.size());
  const BatchSequence one{&state, tokens, rows};
  return forward(std::span(&one, 1));
}

Tensor Model::prefill(std::span<const int32_t> tokens, SessionState& state, int64_t chunk, LogitRows rows,
                      const std::function<void(int64_t, int64_t)>& progress) {
  check(chunk > 0, "prefill chunk must be positive, got {}", chunk);
  const int64_t T = static_cast<int64_t>(tokens.size());
  const int64_t out_rows = rows == LogitRows::kAll ? T : rows == LogitRows::kLast ? std::min<int64_t>(T, 1) : 0;
  Tensor logits({out_rows, config_.vocab_size});
  for (int64_t done = 0; done < T;) {
    const int64_t n = std::min(chunk, T - done);
    const bool last = done + n == T;
    const LogitRows want = rows == LogitRows::kAll ? rows : last ? rows : LogitRows::kNone;
    Tensor part = forward(tokens.subspan(static_cast<size_t>(done), static_cast<size_t>(n)), state, want);
    float* to = rows == LogitRows::kLast ? logits.data() : logits.data() + done * config_.vocab_size;
    std::copy(part.data(), part.data() + part.size(), to);
    done += n;
    if (progress) progress(done, T);
  }
  return logits;
}

}  // namespace baleen
