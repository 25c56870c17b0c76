// One layer's MoE (spec "MoE"): router (hash or learned), routed experts with the SwiGLU clamp, and the
// shared expert: out = Σ weights·expert(h) + shared(h).
#pragma once

#include <span>

#include "backend/backend.h"
#include "engine/weights.h"
#include "engine/workspace.h"

namespace baleen {

// Backend views of a layer's expert tensors, made once per model.
struct MoeViews {
  std::vector<ExpertWeights> experts;
  ExpertWeights shared;
};
MoeViews moe_views(const MoeWeights& w);

void moe_forward(const Config& config, Backend& backend, Workspace& ws, const MoeWeights& w,
                 const MoeViews& views, MatrixView<const float> h, std::span<const int32_t> tokens,
                 MatrixView<float> out);

}  // namespace baleen
