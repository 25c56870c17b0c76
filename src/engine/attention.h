// One layer's attention (spec "Attention", "Lightning indexer"): queries and the shared K=V, the
// compressor and indexer updates, windowed / compressed / sparse attention with sinks over each session's
// stored keys, the inverse RoPE on the output and the grouped output projection; the step's kv rows then
// join each session's window.
#pragma once

#include "engine/layer_context.h"
#include "engine/weights.h"

namespace baleen {

// h: normalized input [T, D] of the step's rows; out [T, D].
void attention_forward(const LayerContext& ctx, const LayerSpec& spec, const BackendWeights::Attention& w,
                       MatrixView<const float> h, MatrixView<float> out);

}  // namespace baleen
