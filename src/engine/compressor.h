// The KV compressors (spec "Compressors", "Lightning indexer"): append a chunk's tokens to a compressor's
// tail and turn every window that closes into one entry — gated pooling (with the CSA overlap of the
// previous window's a-halves), RMSNorm, RoPE at w·m — stored in the state's format.
#pragma once

#include "backend/backend.h"
#include "engine/session_state.h"
#include "engine/weights.h"
#include "engine/workspace.h"

namespace baleen {

struct CompressorContext {
  Backend& backend;
  Workspace& ws;
  RopeFrequencies rope;
  float eps = 0;
  bool rotate = false;  // Hadamard-rotate entries before storing (the indexer's keys in paper storage)
};

// h: the layer's normalized input [T, D] at positions first_position …; appends the closed windows'
// entries to state.entries.
void compressor_append(const CompressorContext& ctx, const CompressorWeights& w, MatrixView<const float> h,
                       int64_t first_position, CompressorState& state);

}  // namespace baleen
