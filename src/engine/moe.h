// One layer's MoE (spec "MoE"): router (hash or learned), routed experts with the SwiGLU clamp, and the
// shared expert: out = Σ weights·expert(h) + shared(h).
#pragma once

#include "backend/backend.h"
#include "engine/weights.h"
#include "engine/workspace.h"

namespace baleen {

// h: normalized input [T, D] of the step's rows (tokens: the step's token ids, for hash routing).
void moe_forward(const Config& config, Backend& backend, Workspace& ws, const BackendWeights::Moe& w,
                 MatrixView<const float> h, const int32_t* tokens, MatrixView<float> out);

}  // namespace baleen
