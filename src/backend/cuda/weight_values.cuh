// The value of one element of a DeviceWeight (device_weight.h), bit for bit what Checkpoint::load_f32
// gives (code × scale, one fp32 rounding), and the warp sums the general kernels use.
#pragma once

#include <cuda_fp8.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "backend/cuda/block_scale.cuh"
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

// Scale i of w's row-major scale grid.
__device__ inline float scale_at(const DeviceWeight& w, int64_t i) {
  switch (w.scale_dtype) {
    case kDtUE8M0:
      return ue8m0_value(static_cast<const uint8_t*>(w.scales)[i]);
    case kDtBF16:
      return bf16_value(static_cast<const uint16_t*>(w.scales)[i]);
    default:
      return static_cast<const float*>(w.scales)[i];
  }
}

__device__ inline float scale_value(const DeviceWeight& w, int64_t r, int64_t c) {
  return scale_at(w, (r / w.block_rows) * w.scale_cols + c / w.block_cols);
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

// Rows read 16 bytes at a time: kChunkValues<dtype> consecutive values of one row, within one scale block.
template <int kDt>
inline constexpr int kChunkValues = kDt == kDtF32 ? 4 : kDt == kDtBF16 ? 8 : kDt == kDtF8E4M3 ? 16 : 32;

// kChunkValues of a run-time dtype; 0 for one the chunk reader does not take.
__host__ __device__ inline int chunk_values(int dtype) {
  switch (dtype) {
    case kDtF32: return kChunkValues<kDtF32>;
    case kDtBF16: return kChunkValues<kDtBF16>;
    case kDtF8E4M3: return kChunkValues<kDtF8E4M3>;
    case kDtF4E2M1x2: return kChunkValues<kDtF4E2M1x2>;
    default: return 0;
  }
}

// Whether w's rows can be read as aligned 16-byte chunks that each lie in one scale block, against x rows
// that are 16-byte aligned (x and ldx floats apart).
__host__ __device__ inline bool chunk_readable(const DeviceWeight& w, const float* x, int64_t ldx) {
  const int values = chunk_values(w.dtype);
  if (values == 0) return false;
  const bool quantized = w.dtype == kDtF8E4M3 || w.dtype == kDtF4E2M1x2;
  return w.cols % values == 0 && reinterpret_cast<uintptr_t>(w.data) % 16 == 0 &&
         (!quantized || w.block_cols % values == 0) && reinterpret_cast<uintptr_t>(x) % 16 == 0 && ldx % 4 == 0;
}

// Four e4m3 codes (first in the low byte) as fp32, through the hardware's e4m3 → fp16 conversion.
__device__ __forceinline__ float4 e4m3x4_values(uint32_t w) {
  const float2 lo = __half22float2(
                   __half2(__nv_cvt_fp8x2_to_halfraw2(static_cast<__nv_fp8x2_storage_t>(w & 0xFFFF), __NV_E4M3))),
               hi = __half22float2(
                   __half2(__nv_cvt_fp8x2_to_halfraw2(static_cast<__nv_fp8x2_storage_t>(w >> 16), __NV_E4M3)));
  return make_float4(lo.x, lo.y, hi.x, hi.y);
}

// Values 4q … 4q + 3 of a 16-byte chunk as fp32, before the block scale: the code values weight_value
// multiplies by its scale (an e4m3 or e2m1 code is exact in fp16), except that e2m1 codes come as e4m3
// codes worth value·2^−6 (kE2m1AsE4m3Scale gives the rest).
template <int kDt>
__device__ __forceinline__ float4 chunk_quad(const uint4& raw, int q) {
  const uint32_t u[4] = {raw.x, raw.y, raw.z, raw.w};
  if constexpr (kDt == kDtF32) {
    return make_float4(__uint_as_float(u[0]), __uint_as_float(u[1]), __uint_as_float(u[2]), __uint_as_float(u[3]));
  } else if constexpr (kDt == kDtBF16) {
    const uint32_t a = u[2 * q], b = u[2 * q + 1];
    return make_float4(__uint_as_float(a << 16), __uint_as_float(a & 0xFFFF0000u), __uint_as_float(b << 16),
                       __uint_as_float(b & 0xFFFF0000u));
  } else if constexpr (kDt == kDtF8E4M3) {
    return e4m3x4_values(u[q]);
  } else {
    // A word holds 8 codes, low nibble first: its low and its high nibbles become e4m3 bytes side by side
    // (quads 2p and 2p + 1 of word p share them), and one byte permutation puts a quad's back in order.
    const uint32_t w = u[q / 2];
    const uint32_t even = e2m1_low_nibbles_to_e4m3(w), odd = e2m1_high_nibbles_to_e4m3(w);
    return e4m3x4_values(__byte_perm(even, odd, q % 2 ? 0x7362 : 0x5140));
  }
}

// Σ_c w(r, c)·x[c] over one warp (every lane gets the sum).
__device__ inline float warp_sum(float v) {
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// The warp's sums of each lane's kN values (kN a power of two, at most 32), spread over the lanes: sum j
// ends in lanes j·32/kN … (j + 1)·32/kN − 1 (sum_index). At each of the offsets 16, 8, 4, 2, 1 a lane
// adds its partner's value to its own, as warp_sum does, so every sum has warp_sum's bits; but a lane
// passes on the half of its values that its partner keeps, so the warp shuffles kN − 1 + log2(32/kN)
// times instead of 5·kN.
template <int kN>
__device__ __forceinline__ float transposed_warp_sums(float (&v)[kN]) {
  static_assert(kN >= 1 && kN <= 32 && (kN & (kN - 1)) == 0, "a power of two, at most a warp's lanes");
  const int lane = static_cast<int>(threadIdx.x % 32);
  int o = 16;
#pragma unroll
  for (int half = kN / 2; half >= 1; half /= 2, o /= 2) {
    const bool upper = (lane & o) != 0;
#pragma unroll
    for (int j = 0; j < half; ++j) {
      const float send = upper ? v[j] : v[j + half], keep = upper ? v[j + half] : v[j];
      v[j] = keep + __shfl_xor_sync(0xffffffffu, send, o);
    }
  }
  for (; o > 0; o /= 2) v[0] += __shfl_xor_sync(0xffffffffu, v[0], o);
  return v[0];
}

// Which of kN sums transposed_warp_sums leaves in this lane, and whether it is the first lane holding it.
template <int kN>
__device__ inline int sum_index() {
  return static_cast<int>(threadIdx.x % 32) * kN / 32;
}
template <int kN>
__device__ inline bool first_holder() {
  return threadIdx.x % (32 / kN) == 0;
}

}  // namespace baleen::cuda
