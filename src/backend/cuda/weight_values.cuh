// The value of one element of a DeviceWeight (device_weight.h), bit for bit what Checkpoint::load_f32
// gives (code × scale, one fp32 rounding), and the warp sum the general kernels use.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "backend/cuda/device_weight.h"

namespace baleen::cuda {

__device__ inline float bf16_value(uint16_t bits) {
  return __uint_as_float(static_cast<uint32_t>(bits) << 16);
}

// e4m3fn: bias 7, no infinities, S.1111.111 is NaN; subnormals m·2^−9.
__device__ inline float e4m3_value(uint8_t b) {
  const uint32_t e = (b >> 3) & 15u, m = b & 7u;
  float mag;
  if (e == 15 && m == 7) {
    mag = __uint_as_float(0x7fc00000u);
  } else if (e == 0) {
    mag = static_cast<float>(m) * 0x1p-9f;
  } else {
    mag = __uint_as_float(((e + 120u) << 23) | (m << 20));
  }
  return (b & 0x80) ? -mag : mag;
}

__device__ inline float e2m1_value(uint8_t nibble) {
  const float kMagnitudes[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
  const float mag = kMagnitudes[nibble & 7];
  return (nibble & 8) ? -mag : mag;
}

// 2^(e−127); 0 is the subnormal 2^−127, 0xFF NaN.
__device__ inline float ue8m0_value(uint8_t e) {
  if (e == 0xFF) return __uint_as_float(0x7fc00000u);
  if (e == 0) return __uint_as_float(0x00400000u);
  return __uint_as_float(static_cast<uint32_t>(e) << 23);
}

__device__ inline float scale_value(const DeviceWeight& w, int64_t r, int64_t c) {
  const int64_t i = (r / w.block_rows) * w.scale_cols + c / w.block_cols;
  switch (w.scale_dtype) {
    case kDtUE8M0:
      return ue8m0_value(static_cast<const uint8_t*>(w.scales)[i]);
    case kDtBF16:
      return bf16_value(static_cast<const uint16_t*>(w.scales)[i]);
    default:
      return static_cast<const float*>(w.scales)[i];
  }
}

// w(r, c) as fp32.
__device__ inline float weight_value(const DeviceWeight& w, int64_t r, int64_t c) {
  switch (w.dtype) {
    case kDtF32:
      return static_cast<const float*>(w.data)[r * w.cols + c];
    case kDtBF16:
      return bf16_value(static_cast<const uint16_t*>(w.data)[r * w.cols + c]);
    case kDtF8E4M3:
      return e4m3_value(static_cast<const uint8_t*>(w.data)[r * w.cols + c]) * scale_value(w, r, c);
    default: {
      const uint8_t b = static_cast<const uint8_t*>(w.data)[(r * w.cols + c) / 2];
      return e2m1_value((c & 1) ? b >> 4 : b & 15) * scale_value(w, r, c);
    }
  }
}

// Σ_c w(r, c)·x[c] over one warp (every lane gets the sum).
__device__ inline float warp_sum(float v) {
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

}  // namespace baleen::cuda
