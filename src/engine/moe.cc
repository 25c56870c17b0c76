#include "engine/moe.h"

#include <algorithm>

namespace baleen {
namespace {

ExpertWeights expert_view(const ExpertTensors& e) {
  return {weight_view(e.w1), weight_view(e.w2), weight_view(e.w3)};
}

}  // namespace

MoeViews moe_views(const MoeWeights& w) {
  MoeViews v;
  for (const ExpertTensors& e : w.experts) v.experts.push_back(expert_view(e));
  v.shared = expert_view(w.shared);
  return v;
}

void moe_forward(const Config& c, Backend& backend, Workspace& ws, const MoeWeights& w, const MoeViews& views,
                 MatrixView<const float> h, std::span<const int32_t> tokens, MatrixView<float> out) {
  const int64_t T = h.rows, E = c.n_routed_experts, K = c.n_activated_experts;
  MatrixView<float> logits = ws.matrix(Buf::kRouterLogits, T, E);
  backend.matmul(h, weight_view(w.gate), logits);
  MatrixView<int32_t> experts = ws.indices(IntBuf::kRoutes, T, K);
  MatrixView<float> weights = ws.matrix(Buf::kRouteWeights, T, K);
  backend.moe_route(logits, w.bias.empty() ? nullptr : w.bias.data(),
                    w.tid2eid.empty() ? nullptr : w.tid2eid.data(), tokens.data(),
                    static_cast<float>(c.routed_scaling_factor), experts, weights);
  for (int64_t t = 0; t < T; ++t) std::fill(out.row(t), out.row(t) + out.cols, 0.0f);
  const float limit = static_cast<float>(c.swiglu_limit);
  backend.moe_experts(h, {experts, weights}, views.experts, limit, out);
  // The shared expert, as one more route of weight 1 for every token.
  MatrixView<int32_t> shared_ids = ws.indices(IntBuf::kSharedRoutes, T, 1);
  MatrixView<float> shared_w = ws.matrix(Buf::kSharedWeights, T, 1);
  std::fill(shared_ids.data, shared_ids.data + T, 0);
  std::fill(shared_w.data, shared_w.data + T, 1.0f);
  backend.moe_experts(h, {shared_ids, shared_w}, {&views.shared, 1}, limit, out);
}

}  // namespace baleen
