#include "engine/attention.h"

#include <algorithm>
#include <cmath>

#include "engine/compressor.h"

namespace baleen {
namespace {

// Decodes every stored entry of a compressor into a [N, dim] view.
MatrixView<float> decode_entries(Workspace& ws, Buf buf, const KvRows& entries) {
  MatrixView<float> out = ws.matrix(buf, entries.count(), entries.codec().dim());
  entries.decode(0, entries.count(), out.data);
  return out;
}

// spec "Lightning indexer": appends the indexer's compressed keys, scores the visible entries and
// returns the top-k picks per query [T, k].
MatrixView<const int32_t> indexer_top_k(const AttentionContext& ctx, const IndexerWeights& w,
                                        MatrixView<const float> h, MatrixView<const float> q_res,
                                        const int64_t* positions, CompressorState& st) {
  const Config& c = ctx.config;
  const int64_t tokens = h.rows, heads = c.index_n_heads, di = c.index_head_dim;
  compressor_append({ctx.backend, ctx.ws, ctx.compress_rope, float(c.rms_norm_eps), ctx.paper}, w.compressor,
                    h, positions[0], st);
  MatrixView<float> q = ctx.ws.matrix(Buf::kIndexQ, tokens, heads * di);
  ctx.backend.matmul(q_res, weight_view(w.wq_b), q);
  ctx.backend.rope(q, di, positions, ctx.compress_rope, false);
  if (ctx.paper) {  // the reference rotates and FP4-quantizes the queries as it does the keys
    MatrixView<float> per_head{q.data, tokens * heads, di};
    ctx.backend.hadamard(per_head);
    for (int64_t r = 0; r < per_head.rows; ++r) st.entries.codec().round_trip(per_head.row(r));
  }
  MatrixView<float> weights = ctx.ws.matrix(Buf::kIndexWeights, tokens, heads);
  ctx.backend.matmul(h, weight_view(w.weights_proj), weights);
  const float head_scale = 1.0f / std::sqrt(float(heads));
  for (int64_t i = 0; i < tokens * heads; ++i) weights.data[i] *= head_scale;
  MatrixView<float> keys = decode_entries(ctx.ws, Buf::kIndexKeys, st.entries);
  MatrixView<float> scores = ctx.ws.matrix(Buf::kIndexScores, tokens, std::max<int64_t>(keys.rows, 1));
  MatrixView<int32_t> picks = ctx.ws.indices(IntBuf::kPicks, tokens, c.index_topk);
  ctx.backend.indexer_top_k(q, weights, keys, positions, st.ratio, 1.0f / std::sqrt(float(di)), scores,
                            picks);
  return picks;
}

// The window keys of this chunk: the up to W−1 stored rows before it, then the chunk's own kv.
MatrixView<const float> window_keys(const AttentionContext& ctx, const LayerState& st,
                                    MatrixView<const float> kv, int64_t first_position,
                                    int64_t* window_start) {
  const int64_t before = std::min(ctx.config.sliding_window - 1, first_position), d = kv.cols;
  MatrixView<float> window = ctx.ws.matrix(Buf::kWindow, before + kv.rows, d);
  st.window.decode(first_position - before, before, window.data);
  std::copy(kv.data, kv.data + kv.rows * d, window.row(before));
  *window_start = first_position - before;
  return window;
}

}  // namespace

void attention_forward(const AttentionContext& ctx, const LayerSpec& spec, const AttentionWeights& w,
                       MatrixView<const float> h, const int64_t* positions, LayerState& st,
                       MatrixView<float> out) {
  const Config& c = ctx.config;
  Backend& be = ctx.backend;
  const int64_t tokens = h.rows, heads = c.num_heads, d = c.head_dim;
  const float eps = static_cast<float>(c.rms_norm_eps);
  // Queries: q_res = RMSNorm(wq_a·h); per head unweighted RMSNorm, RoPE at t.
  MatrixView<float> q_res = ctx.ws.matrix(Buf::kQr, tokens, c.q_lora_rank);
  be.matmul(h, weight_view(w.wq_a), q_res);
  be.rms_norm(q_res, w.q_norm.data(), eps, q_res);
  MatrixView<float> q = ctx.ws.matrix(Buf::kQ, tokens, heads * d);
  be.matmul(q_res, weight_view(w.wq_b), q);
  MatrixView<float> q_heads{q.data, tokens * heads, d};
  be.rms_norm(q_heads, nullptr, eps, q_heads);
  be.rope(q, d, positions, ctx.rope, false);
  // The single K=V head; the paper's storage quantizes it before attention reads it.
  MatrixView<float> kv = ctx.ws.matrix(Buf::kKv, tokens, d);
  be.matmul(h, weight_view(w.wkv), kv);
  be.rms_norm(kv, w.kv_norm.data(), eps, kv);
  be.rope(kv, d, positions, ctx.rope, false);
  for (int64_t t = 0; t < tokens; ++t) st.window.codec().round_trip(kv.row(t));

  AttentionKeys keys;
  keys.window = window_keys(ctx, st, kv, positions[0], &keys.window_start);
  keys.window_size = c.sliding_window;
  const AttentionKind kind = attention_kind(spec);
  if (kind != AttentionKind::kSliding) {
    compressor_append({be, ctx.ws, ctx.compress_rope, eps, false}, *w.compressor, h, positions[0],
                      st.compressor);
    keys.compressed = decode_entries(ctx.ws, Buf::kCompressed, st.compressor.entries);
    keys.ratio = spec.compress_ratio;
    if (kind == AttentionKind::kCsa)
      keys.picks = indexer_top_k(ctx, *w.indexer, h, q_res, positions, st.indexer);
  }
  MatrixView<float> o = ctx.ws.matrix(Buf::kAttnOut, tokens, heads * d);
  be.attention(q, heads, keys, positions, w.sinks.data(), 1.0f / std::sqrt(float(d)), o);
  be.rope(o, d, positions, ctx.rope, true);  // V carried RoPE: rotate each head's output back by −t
  // Grouped output projection: z_i = wo_a[i]·group_i, out = wo_b·concat(z).
  MatrixView<float> z = ctx.ws.matrix(Buf::kGrouped, tokens, c.o_groups * c.o_lora_rank);
  be.grouped_matmul(o, weight_view(w.wo_a), c.o_groups, z);
  be.matmul(z, weight_view(w.wo_b), out);
  for (int64_t t = 0; t < tokens; ++t) st.window.append(kv.row(t));
}

}  // namespace baleen
