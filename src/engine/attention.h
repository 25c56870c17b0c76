// One layer's attention (spec "Attention", "Lightning indexer"): queries and the shared K=V, the
// compressor and indexer updates, windowed / compressed / sparse attention with sinks, the inverse RoPE
// on the output and the grouped output projection. Appends the chunk to the layer's state.
#pragma once

#include "backend/backend.h"
#include "engine/session_state.h"
#include "engine/weights.h"
#include "engine/workspace.h"

namespace baleen {

struct AttentionContext {
  const Config& config;
  Backend& backend;
  Workspace& ws;
  RopeFrequencies rope;           // this layer's: main for sliding-only layers, compress otherwise
  RopeFrequencies compress_rope;  // the compressors' and indexer's
  bool paper = false;             // the session stores the paper's formats
};

// h: normalized input [T, D] at positions[0..T); out [T, D].
void attention_forward(const AttentionContext& ctx, const LayerSpec& spec, const AttentionWeights& w,
                       MatrixView<const float> h, const int64_t* positions, LayerState& state,
                       MatrixView<float> out);

}  // namespace baleen
