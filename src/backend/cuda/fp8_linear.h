// FP8 block-scaled linear layers y[M, N] = x[M, K]·Wᵀ (spec "Norms and precision"): W is e4m3 with one
// scale per 128×128 block (the checkpoint's bytes, ue8m0 or f32 scales), x is FP8 per 1×128
// (activation_quant.h), products accumulate in fp32. Two paths: decode (M ≤ 32) streams W once through
// mma.sync tiles, memory-bound; prefill (M a multiple of 16) calls cuBLASLt's block-scaled FP8 GEMM.
// Device pointers; asynchronous on `stream`; returns the launch status (cudaErrorInvalidValue for a
// shape a path does not take).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "backend/cuda/activation_quant.h"

namespace baleen::cuda {

// W [rows = out, cols = in] e4m3 row-major; scales [ceil(rows/128), cols/128] row-major.
struct Fp8Weight {
  const uint8_t* data = nullptr;
  const void* scales = nullptr;
  bool ue8m0_scales = true;  // false: f32 scales
  int64_t rows = 0, cols = 0;
};

inline constexpr int64_t kFp8DecodeMaxTokens = 32;

// Scratch the decode path needs for x.rows tokens (split-K partial sums and arrival counters). The
// workspace must be zeroed once after allocation; every call leaves its counters zero again.
size_t fp8_linear_decode_workspace_bytes(int64_t tokens, const Fp8Weight& w);

// Decode: x.rows ≤ 32, x's scales row-major (scale_block_stride 1); N a multiple of 16, K of 128.
// y [x.rows, N] with row stride ldy floats.
cudaError_t fp8_linear_decode(const Fp8Activations& x, const Fp8Weight& w, float* y, int64_t ldy,
                              void* workspace, size_t workspace_bytes, cudaStream_t stream);

// Prefill through cuBLASLt: x.rows a multiple of 16 with its scales in VEC128 layout (scale_row_stride
// 1, scale_block_stride x.rows); f32 weight scales; N and K multiples of 128. y [x.rows, N] dense
// (ldy = N). `cublas_workspace` is scratch for cuBLASLt (32 MiB is plenty).
struct PrefillContext;  // a cuBLASLt handle; one per stream
PrefillContext* create_prefill_context();
void destroy_prefill_context(PrefillContext* context);
cudaError_t fp8_linear_prefill(PrefillContext* context, const Fp8Activations& x, const Fp8Weight& w, float* y,
                               void* cublas_workspace, size_t workspace_bytes, cudaStream_t stream);

}  // namespace baleen::cuda
