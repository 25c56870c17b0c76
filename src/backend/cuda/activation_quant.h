// FP8 activations for the block-scaled linear layers (spec "Norms and precision": linear layers quantize
// their input per 128 values before FP8/FP4 GEMMs): e4m3 codes with one power-of-two fp32 scale per 1×128
// block, chosen as the reference's act_quant with ue8m0 (2^ceil(log2(max(amax, 1e-4)/448)))). Device
// pointers; the call is asynchronous on `stream` and returns the launch status.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace baleen::cuda {

inline constexpr int64_t kActivationBlock = 128;

// x_q [rows, cols] e4m3 row-major (row stride cols); block (r, b)'s scale at scales[r·row_stride +
// b·block_stride]: (cols/128, 1) is row-major [rows, cols/128] (the decode kernels'), (1, rows) is
// cuBLASLt's VEC128 layout [cols/128, rows].
struct Fp8Activations {
  uint8_t* data = nullptr;
  float* scales = nullptr;
  int64_t rows = 0, cols = 0;
  int64_t scale_row_stride = 0, scale_block_stride = 1;
};

// Quantizes x [rows, cols] (row stride x_stride floats; cols a multiple of 128) into out.
cudaError_t quantize_activations(const float* x, int64_t x_stride, const Fp8Activations& out,
                                 cudaStream_t stream);

}  // namespace baleen::cuda
