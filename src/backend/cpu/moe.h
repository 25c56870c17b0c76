// MoE kernels (spec "MoE"): the router (sqrt-softplus scores, hash or learned choice, normalised weights)
// and the clamped SwiGLU activation, with float64 truths; moe_experts_reference is the scalar truth of the
// whole routed-expert sum the backend composes from matmuls (expert weights in any dtype matmul reads).
#pragma once

#include <span>

#include "backend/backend.h"

namespace baleen::cpu {

void moe_route_rows(MatrixView<const float> logits, const float* bias, const int32_t* tid2eid,
                    const int32_t* tokens, float scaling, MatrixView<int32_t> experts,
                    MatrixView<float> weights, int64_t begin, int64_t end);
void moe_route_reference(MatrixView<const float> logits, const float* bias, const int32_t* tid2eid,
                         const int32_t* tokens, float scaling, MatrixView<int32_t> experts,
                         MatrixView<float> weights);

// gate[i] = silu(min(gate[i], L))·clamp(up[i], −L, L) in place (L = 0: no clamp).
void swiglu(float* gate, const float* up, int64_t n, float limit);

void moe_experts_reference(MatrixView<const float> x, const MoeRoutes& routes,
                           std::span<const ExpertWeights> experts, float limit, MatrixView<float> out);

}  // namespace baleen::cpu
