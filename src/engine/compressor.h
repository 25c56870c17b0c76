// The engine's half of a KV compressor (spec "Compressors"): the kv and gate projections of the layer's
// input; the backend appends them to each session's compressor (Backend::compressor_append).
#pragma once

#include "engine/layer_context.h"
#include "engine/weights.h"

namespace baleen {

// h: the layer's normalized input [T, D]; rotate: Hadamard-rotate the entries (the indexer's, in paper
// storage).
void compressor_forward(const LayerContext& ctx, CompressorRole role, const BackendWeights::Compressor& w,
                        MatrixView<const float> h, bool rotate);

}  // namespace baleen
