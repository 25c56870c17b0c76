// The device side of model/kv_codec.h: a thread block encodes one fp32 KV row into its data and scale parts,
// and any thread decodes one element of a stored row, bit for bit KvCodec::encode and KvCodec::decode. That
// needs IEEE fp32 division and products without flush-to-zero (the library is built without fast math): the
// block amax / max-code quotient picks the scale, and ue8m0's 2^−127 and FP8 subnormals are denormal floats.
// Header-only device code (C++17); pointers may be global or shared memory.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "backend/cuda/block_scale.cuh"
#include "backend/cuda/device_codec.h"
#include "model/kv_codec.h"

namespace baleen::cuda {

namespace kv_detail {

constexpr int kF32 = static_cast<int>(KvFormat::kF32);
constexpr int kFp8Rope = static_cast<int>(KvFormat::kFp8Rope);
constexpr int kFp8Block = static_cast<int>(kFp8ScaleBlock), kFp4Block = static_cast<int>(kFp4ScaleBlock);
static_assert(kFp8Block == 64 && kFp4Block == 32, "encode_row_block gives a warp one scale block");

// core/dtype.h's f32_to_fp8_e4m3, operation for operation.
__device__ __forceinline__ uint8_t f32_to_e4m3(float value) {
  const uint8_t sign = signbit(value) ? 0x80 : 0x00;
  if (isnan(value)) return sign | 0x7F;
  const float a = fabsf(value);
  if (a >= 448.0f) return sign | 0x7E;
  if (a < 0x1p-6f) return sign | static_cast<uint8_t>(rintf(a * 512.0f));  // subnormal: multiples of 2^−9
  int e = 0;
  const float m = frexpf(a, &e);
  int exponent = e - 1;
  int mantissa = static_cast<int>(rintf((m * 2.0f - 1.0f) * 8.0f));
  if (mantissa == 8) {
    mantissa = 0;
    ++exponent;
  }
  const int biased = exponent + 7;
  if (biased > 15 || (biased == 15 && mantissa == 7)) return sign | 0x7E;
  return sign | static_cast<uint8_t>((biased << 3) | mantissa);
}

// core/dtype.h's f32_to_fp4_e2m1 (a nibble): one step up per midpoint passed, ties to the even code (the
// alternating ≤ and <), NaN saturating as the CPU's fall-through does.
__device__ __forceinline__ uint8_t f32_to_e2m1(float value) {
  const uint8_t sign = signbit(value) ? 0x8 : 0x0;
  const float a = fabsf(value);
  if (isnan(a)) return sign | 7;
  const int code =
      (a > 0.25f) + (a >= 0.75f) + (a > 1.25f) + (a >= 1.75f) + (a > 2.5f) + (a >= 3.5f) + (a > 5.0f);
  return sign | static_cast<uint8_t>(code);
}

// core/dtype.h's f32_to_bf16: nearest even; a NaN stays a quiet NaN.
__device__ __forceinline__ uint16_t f32_to_bf16_bits(float value) {
  uint32_t u = __float_as_uint(value);
  if (isnan(value)) return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7FFF + ((u >> 16) & 1);
  return static_cast<uint16_t>(u >> 16);
}

// The value of an e4m3 code that is not a NaN (S.1111.111).
__device__ __forceinline__ float e4m3_value(uint8_t code) {
  const uint32_t magnitude = code & 0x7F, exponent = magnitude >> 3, mantissa = magnitude & 7;
  const float v = exponent == 0 ? static_cast<float>(mantissa) * 0x1p-9f
                                : __uint_as_float(((exponent + 120) << 23) | (mantissa << 20));
  return (code & 0x80) ? -v : v;
}

__device__ __forceinline__ float e2m1_value(uint32_t nibble) {
  const uint32_t m = nibble & 7;  // 0 0.5 1 1.5 2 3 4 6
  const float v =
      m < 2 ? 0.5f * static_cast<float>(m) : __uint_as_float((((m >> 1) + 126) << 23) | ((m & 1) << 22));
  return (nibble & 8) ? -v : v;
}

// x / 2^e as the CPU forms it (x · 2^−e, one rounding); a NaN keeps its sign (x86 keeps a NaN operand's
// bits where CUDA would give its canonical NaN), so its code is the one the CPU writes.
__device__ __forceinline__ float scaled(float x, int e) {
  return isnan(x) ? x : x * ue8m0_to_float(static_cast<uint8_t>(127 - e));
}

// The scale exponent of the block a warp holds (a lane's |values| in `amax`, 0 for lanes past the end):
// the amax over the warp from `floor` up, NaNs ignored (fmaxf), as std::max in quantize_block does. An
// infinite amax gets exponent 0, what glibc's frexp(∞) yields on the CPU.
__device__ __forceinline__ int warp_block_exponent(float amax, float max_code, float floor) {
  for (int o = 16; o > 0; o /= 2) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
  if (isinf(amax)) return 0;
  return pow2_scale_exponent(fmaxf(amax, floor), max_code);
}

// kFp8Rope: warp w quantizes 64-value blocks w, w + warps, …; two values a lane.
__device__ __forceinline__ void encode_fp8_rope(const DeviceCodec& c, const float* row, uint8_t* data,
                                                uint8_t* scales) {
  const int lane = threadIdx.x % 32, warps = blockDim.x / 32, nope = c.dim - c.rope_dim;
  const int blocks = (nope + kFp8Block - 1) / kFp8Block;
  for (int b = threadIdx.x / 32; b < blocks; b += warps) {
    const int i0 = b * kFp8Block + lane, i1 = i0 + 32;
    const float x0 = i0 < nope ? row[i0] : 0.0f, x1 = i1 < nope ? row[i1] : 0.0f;
    const int e = warp_block_exponent(fmaxf(fabsf(x0), fabsf(x1)), 448.0f, 1e-4f);
    if (i0 < nope) data[i0] = f32_to_e4m3(scaled(x0, e));
    if (i1 < nope) data[i1] = f32_to_e4m3(scaled(x1, e));
    if (lane == 0) scales[b] = static_cast<uint8_t>(e + 127);
  }
  for (int i = blocks + threadIdx.x; i < c.scale_bytes; i += blockDim.x) scales[i] = 0;
  for (int i = threadIdx.x; i < c.rope_dim; i += blockDim.x) {  // bf16 little-endian, any alignment
    const uint16_t bits = f32_to_bf16_bits(row[nope + i]);
    data[nope + 2 * i] = static_cast<uint8_t>(bits & 0xFF);
    data[nope + 2 * i + 1] = static_cast<uint8_t>(bits >> 8);
  }
}

// kFp4: warp w quantizes 32-value blocks w, w + warps, …; one value a lane, the even lane writes the pair's
// byte (a lone last value leaves the high nibble zero, as the CPU's zero-filled buffer does).
__device__ __forceinline__ void encode_fp4(const DeviceCodec& c, const float* row, uint8_t* data,
                                           uint8_t* scales) {
  const int lane = threadIdx.x % 32, warps = blockDim.x / 32;
  const int blocks = (c.dim + kFp4Block - 1) / kFp4Block;
  for (int b = threadIdx.x / 32; b < blocks; b += warps) {
    const int k = b * kFp4Block + lane;
    const float x = k < c.dim ? row[k] : 0.0f;
    const int e = warp_block_exponent(fabsf(x), 6.0f, 6.0f * 0x1p-126f);
    const uint32_t nibble = k < c.dim ? f32_to_e2m1(scaled(x, e)) : 0u;
    const uint32_t high = __shfl_down_sync(0xffffffffu, nibble, 1);
    if (k < c.dim && lane % 2 == 0) data[k / 2] = static_cast<uint8_t>(nibble | (high << 4));
    if (lane == 0) scales[b] = static_cast<uint8_t>(e + 127);
  }
  for (int i = blocks + threadIdx.x; i < c.scale_bytes; i += blockDim.x) scales[i] = 0;
}

}  // namespace kv_detail

// Called by every thread of a block (blockDim.x a multiple of 32, ≤ 1024): encodes one fp32 row of c.dim
// values into its data and scale parts, bit-identical to KvCodec::encode (kF32: data 4-byte aligned). Begins
// and ends with __syncthreads(), so the row may have just been written by other threads of the block and
// every byte written is visible to the whole block on return. row must not alias data or scales.
__device__ __forceinline__ void encode_row_block(const DeviceCodec& c, const float* row, uint8_t* data,
                                                 uint8_t* scales) {
  __syncthreads();
  if (c.format == kv_detail::kF32) {
    for (int i = threadIdx.x; i < c.dim; i += blockDim.x) reinterpret_cast<float*>(data)[i] = row[i];
  } else if (c.format == kv_detail::kFp8Rope) {
    kv_detail::encode_fp8_rope(c, row, data, scales);
  } else {
    kv_detail::encode_fp4(c, row, data, scales);
  }
  __syncthreads();
}

// Element i of a stored row: exactly the value KvCodec::decode gives it (for scales encode writes: never
// 0xFF).
__device__ __forceinline__ float decode_element(const DeviceCodec& c, const uint8_t* data,
                                                const uint8_t* scales, int i) {
  if (c.format == kv_detail::kF32) return reinterpret_cast<const float*>(data)[i];
  if (c.format == kv_detail::kFp8Rope) {
    const int nope = c.dim - c.rope_dim;
    if (i < nope) {
      const uint8_t code = data[i];
      // The CPU's NaN code times the scale keeps the NaN's bits on x86; CUDA's product would be canonical.
      if ((code & 0x7F) == 0x7F) return __uint_as_float((uint32_t{code & 0x80u} << 24) | 0x7FC00000u);
      return kv_detail::e4m3_value(code) * ue8m0_to_float(scales[i / kv_detail::kFp8Block]);
    }
    const int j = nope + 2 * (i - nope);  // bf16 is the top half of an fp32
    return __uint_as_float((uint32_t{data[j]} | (uint32_t{data[j + 1]} << 8)) << 16);
  }
  const uint32_t byte = data[i / 2];
  return kv_detail::e2m1_value(i % 2 ? byte >> 4 : byte & 15) *
         ue8m0_to_float(scales[i / kv_detail::kFp4Block]);
}

}  // namespace baleen::cuda
