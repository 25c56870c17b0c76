// The CUDA backend's token-wise operations: each mirrors the Backend op of the same name (backend/backend.h,
// whose comments say what it computes) and its CPU kernel (backend/cpu), on device memory — views, tables
// (norm gains, rope inv_freq, mHC fn/base/scale, router bias, tid2eid), tokens and positions are device
// pointers; HyperConnectionParams' scalars are host values. Each call is asynchronous on `stream`, allocates
// nothing and returns the launch status (cudaErrorInvalidValue, launching nothing, for a shape it does not
// take); zero rows launch nothing. Bit-identical to the CPU where stated, else within the tolerances
// tests/backend/cuda/token_ops_test.cc states.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "backend/backend.h"

namespace baleen::cuda {

// table kF32 or kBF16; out [T, streams·table.cols]. Bit-identical.
cudaError_t embed(const int32_t* tokens, const WeightView& table, int64_t streams, MatrixView<float> out,
                  cudaStream_t stream);
// x and y may alias (the same view).
cudaError_t rms_norm(MatrixView<const float> x, const float* weight, float eps, MatrixView<float> y,
                     cudaStream_t stream);
// The angle pos·θ_i in fp32 and its cos/sin in float64 rounded to fp32, the rotation in unfused fp32, as
// cpu::rope_rows does (rope_dim ≤ 512).
cudaError_t rope(MatrixView<float> x, int64_t head_dim, const int64_t* positions, const RopeFrequencies& f,
                 bool inverse, cudaStream_t stream);
// cols a power of two ≤ 8192; bit-identical to cpu::hadamard_rows (the same butterflies).
cudaError_t hadamard(MatrixView<float> x, cudaStream_t stream);
// Bit-identical to KvCodec::round_trip per row (built on kv_codec.cuh); kF32 is a no-op.
cudaError_t kv_round_trip(const KvCodec& codec, MatrixView<float> rows, cudaStream_t stream);
// Bit-identical.
cudaError_t gather_rows(MatrixView<const float> src, const int32_t* rows, MatrixView<float> dst,
                        cudaStream_t stream);
// n ≤ 8; x [T, D] with D ≥ (2+n)·n + 1 (x holds the token's mixes between the two kernels).
cudaError_t hc_pre(MatrixView<const float> streams, const HyperConnectionParams& p, MatrixView<float> x,
                   MatrixView<float> post, MatrixView<float> comb, cudaStream_t stream);
cudaError_t hc_post(MatrixView<const float> y, MatrixView<const float> post, MatrixView<const float> comb,
                    MatrixView<const float> streams, MatrixView<float> out, cudaStream_t stream);
// n ≤ 8; y [T, D] with D ≥ n + 1.
cudaError_t hc_head(MatrixView<const float> streams, const HyperConnectionParams& p, MatrixView<float> y,
                    cudaStream_t stream);
// ≤ 1024 experts, K = experts.cols ≤ 16; ties between biased scores go to the lower expert, as the CPU's.
cudaError_t moe_route(MatrixView<const float> logits, const float* bias, const int32_t* tid2eid,
                      const int32_t* tokens, float scaling, MatrixView<int32_t> experts,
                      MatrixView<float> weights, cudaStream_t stream);
// gate ← silu(min(gate, L))·clamp(up, −L, L) elementwise, in place (L = 0: no clamp), as cpu::swiglu.
cudaError_t swiglu(MatrixView<float> gate, MatrixView<const float> up, float limit, cudaStream_t stream);

}  // namespace baleen::cuda
