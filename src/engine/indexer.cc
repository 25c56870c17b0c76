#include "engine/indexer.h"

#include <cmath>

#include "engine/compressor.h"

namespace baleen {

MatrixView<const int32_t> indexer_top_k(const LayerContext& ctx, const BackendWeights::Indexer& w,
                                        MatrixView<const float> h, MatrixView<const float> q_res) {
  const Config& c = ctx.config;
  Backend& be = ctx.backend;
  const int64_t tokens = h.rows, heads = c.index_n_heads, di = c.index_head_dim;
  compressor_forward(ctx, CompressorRole::kIndexer, w.compressor, h, ctx.paper);
  MatrixView<float> q = ctx.ws.matrix(Buf::kIndexQ, tokens, heads * di);
  be.matmul(q_res, w.wq_b, q);
  be.rope(q, di, ctx.step.positions, ctx.compress_rope, false);
  if (ctx.paper) {  // the reference rotates and FP4-quantizes the queries as it does the keys
    MatrixView<float> per_head{q.data, tokens * heads, di};
    be.hadamard(per_head);
    be.kv_round_trip(ctx.state.indexer.entries, per_head);
  }
  MatrixView<float> weights = ctx.ws.matrix(Buf::kIndexWeights, tokens, heads);
  be.matmul(h, w.weights_proj, weights);
  MatrixView<int32_t> picks = ctx.ws.indices(IntBuf::kPicks, tokens, c.index_topk);
  be.indexer_top_k(ctx.step, ctx.layer, q, weights, 1.0f / std::sqrt(float(heads)), 1.0f / std::sqrt(float(di)),
                   picks);
  return picks;
}

}  // namespace baleen
