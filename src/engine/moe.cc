#include "engine/moe.h"

namespace baleen {

void moe_forward(const Config& c, Backend& backend, Workspace& ws, const BackendWeights::Moe& w,
                 MatrixView<const float> h, const int32_t* tokens, MatrixView<float> out) {
  const int64_t T = h.rows, E = c.n_routed_experts, K = c.n_activated_experts;
  MatrixView<float> logits = ws.matrix(Buf::kRouterLogits, T, E);
  backend.matmul(h, w.gate, logits);
  MatrixView<int32_t> experts = ws.indices(IntBuf::kRoutes, T, K);
  MatrixView<float> weights = ws.matrix(Buf::kRouteWeights, T, K);
  backend.moe_route(logits, w.bias, w.tid2eid, tokens, static_cast<float>(c.routed_scaling_factor), experts,
                    weights);
  backend.moe_experts(h, {experts, weights}, w.experts, w.shared, static_cast<float>(c.swiglu_limit), out);
}

}  // namespace baleen
