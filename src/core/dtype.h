// Element types of checkpoints and caches, and exact scalar conversions between them and float.
// Encoders round to nearest, ties to even, and saturate to the largest finite value (the formats
// without infinities); NaN stays NaN where the format has one. Pure functions, thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace baleen {

enum class DType : uint8_t {
  kF32,
  kF16,
  kBF16,
  kF8E4M3,    // float8_e4m3fn: bias 7, no infinities, max 448
  kF4E2M1x2,  // two float4_e2m1fn values per byte; element 2i in the low nibble
  kUE8M0,     // power-of-two scale 2^(e-127); 0xFF is NaN
  kI8,
  kU8,
  kI32,
  kI64,
};

// The safetensors spelling ("F32", "BF16", "F8_E4M3", "F8_E8M0", "F4", ...) of a dtype and back.
// DeepSeek's own checkpoints store FP4 experts as I8 [out, in/2] (packed) with F8_E8M0 scales; the
// checkpoint layer reinterprets those by role (model/checkpoint.h).
std::string_view dtype_name(DType type);
std::optional<DType> dtype_from_name(std::string_view name);

// Storage size in bits of one element (4 for packed FP4).
int dtype_bits(DType type);

float bf16_to_f32(uint16_t bits);
uint16_t f32_to_bf16(float value);
float f16_to_f32(uint16_t bits);
float fp8_e4m3_to_f32(uint8_t bits);
uint8_t f32_to_fp8_e4m3(float value);
float fp4_e2m1_to_f32(uint8_t nibble);  // low 4 bits used
uint8_t f32_to_fp4_e2m1(float value);   // returns a nibble
float ue8m0_to_f32(uint8_t bits);

inline constexpr float kFp8E4M3Max = 448.0f;
inline constexpr float kFp4E2M1Max = 6.0f;

}  // namespace baleen
