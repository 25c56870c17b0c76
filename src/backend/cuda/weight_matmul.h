// The CUDA backend's general linear layers, for every weight dtype the CPU backend reads (fp32, bf16, FP8
// e4m3 and FP4 e2m1 with block scales): fp32 activations, weights dequantized in registers, fp32 sums —
// the counterpart of cpu::matmul_columns (the same products, summed in another order). A warp's four
// weight rows are dealt to up to 4 passes (by row length), run by as many warps side by side when the
// product has few rows, against a tile of tokens, reading rows 16 bytes a lane where the layout allows.
// The routed-expert mix runs every (token, expert) pair the same way. Device pointers; asynchronous on
// `stream`; returns the launch status.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "backend/cuda/device_weight.h"

namespace baleen::cuda {

// y[T, groups·out_g] (row stride ldy) = per group g: x[:, g·in_g …] · W[g·out_g …, 0 … in_g)ᵀ; W [groups·
// out_g, in_g]. groups 1 is the plain product.
cudaError_t weight_matmul(const float* x, int64_t ldx, int64_t tokens, const DeviceWeight& w, int64_t groups,
                          float* y, int64_t ldy, cudaStream_t stream);

// y[T, N] from the kept rows' product packed[T, P] (row stride ldp): y(t, kept[k]) = packed(t, k), every
// other column the dense product's bits for a zero weight row — +0, or NaN where x row t is not finite
// (x [T, K], row stride ldx).
cudaError_t scatter_kept_rows(const float* packed, int64_t ldp, int64_t kept_count, const int32_t* kept,
                              const float* x, int64_t ldx, int64_t cols, int64_t tokens, float* y, int64_t ldy,
                              int64_t n, cudaStream_t stream);

// One MoE layer's experts on the device: routed [experts] and the shared one, each w1, w3 [inter, hidden],
// w2 [hidden, inter] (the arrays are device memory).
struct DeviceExperts {
  const DeviceWeight* w1 = nullptr;
  const DeviceWeight* w2 = nullptr;
  const DeviceWeight* w3 = nullptr;
  int64_t experts = 0;
  DeviceWeight shared_w1, shared_w2, shared_w3;
  int64_t hidden = 0, inter = 0;
};

// Scratch floats expert_mix needs for `tokens` tokens routed to k experts each.
int64_t expert_mix_scratch_floats(int64_t tokens, int64_t k, const DeviceExperts& e);

// out[t] = Σ_k weights[t,k]·expert_{experts[t,k]}(x[t]) (experts ascending) + shared(x[t]), with
// expert(x) = w2·(silu(min(w1·x, L)) ⊙ clamp(w3·x, −L, L)) (limit 0: no clamp). A route outside
// [0, experts) contributes nothing. out [tokens, hidden] row stride ldo.
cudaError_t expert_mix(const float* x, int64_t ldx, int64_t tokens, const int32_t* experts, const float* weights,
                       int64_t k, const DeviceExperts& e, float limit, float* scratch, float* out, int64_t ldo,
                       cudaStream_t stream);

}  // namespace baleen::cuda
