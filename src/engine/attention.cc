#include "engine/attention.h"

#include <cmath>

#include "engine/compressor.h"
#include "engine/indexer.h"

namespace baleen {

void attention_forward(const LayerContext& ctx, const LayerSpec& spec, const BackendWeights::Attention& w,
                       MatrixView<const float> h, MatrixView<float> out) {
  const Config& c = ctx.config;
  Backend& be = ctx.backend;
  const int64_t tokens = h.rows, heads = c.num_heads, d = c.head_dim;
  const float eps = static_cast<float>(c.rms_norm_eps);
  const int64_t* positions = ctx.step.positions;
  // Queries: q_res = RMSNorm(wq_a·h); per head unweighted RMSNorm, RoPE at t.
  MatrixView<float> q_res = ctx.ws.matrix(Buf::kQr, tokens, c.q_lora_rank);
  be.matmul(h, w.wq_a, q_res);
  be.rms_norm(q_res, w.q_norm, eps, q_res);
  MatrixView<float> q = ctx.ws.matrix(Buf::kQ, tokens, heads * d);
  be.matmul(q_res, w.wq_b, q);
  MatrixView<float> q_heads{q.data, tokens * heads, d};
  be.rms_norm(q_heads, nullptr, eps, q_heads);
  be.rope(q, d, positions, ctx.rope, false);
  // The single K=V head, as the session stores it: attention reads the stored values.
  MatrixView<float> kv = ctx.ws.matrix(Buf::kKv, tokens, d);
  be.matmul(h, w.wkv, kv);
  be.rms_norm(kv, w.kv_norm, eps, kv);
  be.rope(kv, d, positions, ctx.rope, false);
  be.kv_round_trip(ctx.state.window, kv);

  MatrixView<const int32_t> picks;
  const AttentionKind kind = spec.attention();
  if (kind != AttentionKind::kSliding) {
    compressor_forward(ctx, CompressorRole::kMain, *w.compressor, h, false);
    if (kind == AttentionKind::kCsa) picks = indexer_top_k(ctx, *w.indexer, h, q_res);
  }
  MatrixView<float> o = ctx.ws.matrix(Buf::kAttnOut, tokens, heads * d);
  be.attention(ctx.step, ctx.layer, q, heads, kv, picks, w.sinks, 1.0f / std::sqrt(float(d)), o);
  be.rope(o, d, positions, ctx.rope, true);  // V carried RoPE: rotate each head's output back by −t
  // Grouped output projection: z_i = wo_a[i]·group_i, out = wo_b·concat(z).
  MatrixView<float> z = ctx.ws.matrix(Buf::kGrouped, tokens, c.o_groups * c.o_lora_rank);
  be.grouped_matmul(o, w.wo_a, c.o_groups, z);
  be.matmul(z, w.wo_b, out);
  be.window_append(ctx.step, ctx.layer, kv);
}

}  // namespace baleen
