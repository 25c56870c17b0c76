// token_ops.cu's launchers over plain device pointers and sizes: the face of the token-wise kernels that
// nvcc compiles as C++17 (the engine's views live in C++20 headers; token_ops.cc converts them). Each checks
// what its kernel relies on, returns cudaErrorInvalidValue when a shape does not fit, and otherwise the
// launch status; zero rows launch nothing. Asynchronous on `stream`.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "model/kv_codec.h"

namespace baleen::cuda::kernels {

// MatrixView's fields: [rows, cols], rows `stride` elements apart.
template <typename T>
struct Rows {
  T* data;
  int64_t rows, cols, stride;
};

// HyperConnectionParams: fn, base, scale device pointers; the rest host values.
struct HcParams {
  const float* fn;
  const float* base;
  const float* scale;
  int64_t streams, hidden, sinkhorn_iters;
  float hc_eps, norm_eps;
};

inline constexpr int64_t kMaxHadamard = 8192;
inline constexpr int64_t kMaxStreams = 8;
inline constexpr int64_t kMaxExperts = 1024, kMaxTopK = 16;
inline constexpr int64_t kMaxRopePairs = 256;

// table [.., d] fp32 (bf16 false) or bf16 bits.
cudaError_t embed(const int32_t* tokens, const void* table, bool bf16, int64_t d, int64_t streams,
                  Rows<float> out, cudaStream_t stream);
cudaError_t rms_norm(Rows<const float> x, const float* weight, float eps, Rows<float> y, cudaStream_t stream);
cudaError_t rope(Rows<float> x, int64_t head_dim, const int64_t* positions, const float* inv_freq,
                 int64_t rope_dim, bool inverse, cudaStream_t stream);
cudaError_t hadamard(Rows<float> x, cudaStream_t stream);
cudaError_t kv_round_trip(const KvCodec& codec, Rows<float> rows, cudaStream_t stream);
cudaError_t gather_rows(Rows<const float> src, const int32_t* rows, Rows<float> dst, cudaStream_t stream);
cudaError_t hc_pre(Rows<const float> streams, const HcParams& p, Rows<float> x, Rows<float> post,
                   Rows<float> comb, cudaStream_t stream);
cudaError_t hc_post(Rows<const float> y, Rows<const float> post, Rows<const float> comb,
                    Rows<const float> streams, Rows<float> out, cudaStream_t stream);
cudaError_t hc_head(Rows<const float> streams, const HcParams& p, Rows<float> y, cudaStream_t stream);
cudaError_t moe_route(Rows<const float> logits, const float* bias, const int32_t* tid2eid,
                      const int32_t* tokens, float scaling, Rows<int32_t> experts, Rows<float> weights,
                      cudaStream_t stream);
cudaError_t swiglu(Rows<float> gate, Rows<const float> up, float limit, cudaStream_t stream);

}  // namespace baleen::cuda::kernels
