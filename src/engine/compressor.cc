#include "engine/compressor.h"

namespace baleen {

void compressor_forward(const LayerContext& ctx, CompressorRole role, const BackendWeights::Compressor& w,
                        MatrixView<const float> h, bool rotate) {
  const CompressorSpec& spec = role == CompressorRole::kMain ? ctx.state.compressor : ctx.state.indexer;
  const int64_t width = (spec.overlap ? 2 : 1) * spec.dim;
  MatrixView<float> kv = ctx.ws.matrix(Buf::kProjKv, h.rows, width);
  MatrixView<float> gate = ctx.ws.matrix(Buf::kProjGate, h.rows, width);
  ctx.backend.matmul(h, w.wkv, kv);
  ctx.backend.matmul(h, w.wgate, gate);
  ctx.backend.compressor_append(
      ctx.step, ctx.layer, {role, w.ape, w.norm, ctx.compress_rope, float(ctx.config.rms_norm_eps), rotate}, kv,
      gate);
}

}  // namespace baleen
