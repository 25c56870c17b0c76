// Routed experts at decode (spec "MoE"): out[t] += Σ_k weight[t,k]·expert_{e[t,k]}(x[t]) with
// expert(x) = w2·(silu(min(w1·x, L)) ⊙ clamp(w3·x, −L, L)). Weights stay FP4 e2m1 with ue8m0 scales per
// 1×32 (the checkpoint's bytes) and are read once per step: the tokens routed to an expert are grouped on
// the device, every active expert's rows are streamed once through e4m3 MMAs (e2m1 → e4m3 is exact), the
// activations are FP8 per 1×128 (x as activation_quant.h makes it; the SwiGLU output is quantized the same
// way inside the gate/up kernel, as the reference quantizes w2's input). The K contributions of a token are
// summed in route order, so results are deterministic. Device pointers; asynchronous; returns the launch
// status.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "backend/cuda/activation_quant.h"

namespace baleen::cuda {

// One expert matrix [rows, cols]: e2m1 pairs row-major (cols/2 bytes a row, element 2i in the low nibble),
// ue8m0 scales [rows, cols/32] row-major.
struct Fp4Matrix {
  const uint8_t* data = nullptr;
  const uint8_t* scales = nullptr;
};

// A layer's routed experts: device arrays of `experts` matrices each; w1, w3 [inter, hidden], w2 [hidden,
// inter].
struct Fp4ExpertBank {
  const Fp4Matrix* w1 = nullptr;
  const Fp4Matrix* w3 = nullptr;
  const Fp4Matrix* w2 = nullptr;
  int64_t experts = 0, hidden = 0, inter = 0;
};

// Per token the K chosen experts and their weights, [tokens, k] row-major (moe_route's output).
struct DeviceRoutes {
  const int32_t* experts = nullptr;
  const float* weights = nullptr;
  int64_t tokens = 0, k = 0;
};

inline constexpr int64_t kMoeMaxExperts = 1024;
inline constexpr int64_t kMoeMaxSlots = 4096;  // tokens·k of one call

size_t moe_experts_workspace_bytes(const DeviceRoutes& routes, const Fp4ExpertBank& bank);

// x: the tokens' FP8 activations [tokens, hidden] (row-major scales). out [tokens, hidden] (row stride
// ld_out) is accumulated into. hidden and inter multiples of 128; limit 0 means no clamp.
cudaError_t moe_experts_decode(const Fp8Activations& x, const DeviceRoutes& routes, const Fp4ExpertBank& bank,
                               float limit, float* out, int64_t ld_out, void* workspace,
                               size_t workspace_bytes, cudaStream_t stream);

}  // namespace baleen::cuda
