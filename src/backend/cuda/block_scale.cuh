// Device-side rules of DeepSeek's block-scaled formats (spec "Norms and precision"): ue8m0 scales, the
// power-of-two scale a block of values gets (the reference's act_quant with ue8m0: 2^ceil(log2(amax/max))),
// and e2m1 → e4m3 re-encoding for FP8 tensor cores. Header-only device code.
#pragma once

#include <cuda_fp8.h>

#include <cstdint>

namespace baleen::cuda {

// 2^(bits−127); 0 is 2^−127 (a subnormal float).
__device__ __forceinline__ float ue8m0_to_float(uint8_t bits) {
  return bits == 0 ? __int_as_float(0x00400000) : __int_as_float(static_cast<int>(bits) << 23);
}

// The exponent e (clamped to [−127, 127]) of the smallest power of two 2^e ≥ amax / max_code; amax > 0.
__device__ __forceinline__ int pow2_scale_exponent(float amax, float max_code) {
  int e = 0;
  const float m = frexpf(amax / max_code, &e);  // v = m·2^e, m in [0.5, 1)
  if (m == 0.5f) --e;
  return max(-127, min(127, e));
}

// x / 2^e as e4m3, rounded to nearest even and saturated to ±448 (core/dtype.h's f32_to_fp8_e4m3).
__device__ __forceinline__ uint8_t scaled_to_e4m3(float x, int e) {
  return static_cast<uint8_t>(__nv_cvt_float_to_fp8(ldexpf(x, -e), __NV_SATFINITE, __NV_E4M3));
}

// Four e2m1 values (the low nibbles of a word's bytes) re-encoded as four e4m3 bytes worth value·2^−6:
// e2m1's code bits (e1 e0 m) become e4m3's exponent low bits and mantissa top bit (code << 2), so its
// subnormal 0.5 becomes an e4m3 subnormal and every value is exact. The caller multiplies its scale by 2^6.
__device__ __forceinline__ uint32_t e2m1_low_nibbles_to_e4m3(uint32_t w) {
  return ((w & 0x07070707u) << 2) | ((w & 0x08080808u) << 4);
}
// The same for the high nibbles of each byte.
__device__ __forceinline__ uint32_t e2m1_high_nibbles_to_e4m3(uint32_t w) {
  return ((w >> 2) & 0x1C1C1C1Cu) | (w & 0x80808080u);
}
inline constexpr float kE2m1AsE4m3Scale = 64.0f;

// One warp quantizes a 1×128 block, 4 values a lane: returns the lane's 4 e4m3 codes (first value in the low
// byte) and sets *scale to the block's power-of-two scale (amax floored at 1e-4, as act_quant).
__device__ __forceinline__ uint32_t quantize_block_warp(float4 v, float* scale) {
  float amax = fmaxf(fmaxf(fabsf(v.x), fabsf(v.y)), fmaxf(fabsf(v.z), fabsf(v.w)));
  for (int o = 16; o > 0; o /= 2) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
  const int e = pow2_scale_exponent(fmaxf(amax, 1e-4f), 448.0f);
  *scale = ldexpf(1.0f, e);
  return scaled_to_e4m3(v.x, e) | (uint32_t{scaled_to_e4m3(v.y, e)} << 8) |
         (uint32_t{scaled_to_e4m3(v.z, e)} << 16) | (uint32_t{scaled_to_e4m3(v.w, e)} << 24);
}

}  // namespace baleen::cuda
