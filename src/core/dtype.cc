#include "core/dtype.h"

#include <array>
#include <bit>
#include <cmath>
#include <limits>

namespace baleen {
namespace {

struct NamedType {
  DType type;
  std::string_view name;
  int bits;
};

constexpr std::array<NamedType, 10> kTypes{{
    {DType::kF32, "F32", 32},
    {DType::kF16, "F16", 16},
    {DType::kBF16, "BF16", 16},
    {DType::kF8E4M3, "F8_E4M3", 8},
    {DType::kF4E2M1x2, "F4", 8},  // safetensors "F4": shape counts elements, 2 per byte
    {DType::kUE8M0, "F8_E8M0", 8},
    {DType::kI8, "I8", 8},
    {DType::kU8, "U8", 8},
    {DType::kI32, "I32", 32},
    {DType::kI64, "I64", 64},
}};

// The eight magnitudes of e2m1, indexed by the low three bits.
constexpr std::array<float, 8> kFp4Magnitudes{0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};

}  // namespace

std::string_view dtype_name(DType type) {
  for (const auto& t : kTypes) {
    if (t.type == type) return t.name;
  }
  return "?";
}

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& t : kTypes) {
    if (t.name == name) return t.type;
  }
  return std::nullopt;
}

int dtype_bits(DType type) {
  for (const auto& t : kTypes) {
    if (t.type == type) return t.type == DType::kF4E2M1x2 ? 4 : t.bits;
  }
  return 0;
}

float bf16_to_f32(uint16_t bits) { return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16); }

uint16_t f32_to_bf16(float value) {
  uint32_t u = std::bit_cast<uint32_t>(value);
  if (std::isnan(value)) return static_cast<uint16_t>((u >> 16) | 0x40);  // keep it a quiet NaN
  u += 0x7FFF + ((u >> 16) & 1);  // round to nearest, ties to even
  return static_cast<uint16_t>(u >> 16);
}

float f16_to_f32(uint16_t bits) {
  const uint32_t sign = (bits & 0x8000u) << 16;
  const int exponent = (bits >> 10) & 0x1F;
  const uint32_t mantissa = bits & 0x3FF;
  float magnitude;
  if (exponent == 0) {
    magnitude = std::ldexp(static_cast<float>(mantissa), -24);
  } else if (exponent == 31) {
    magnitude = mantissa ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  } else {
    magnitude = std::ldexp(static_cast<float>(mantissa | 0x400), exponent - 25);
  }
  return std::bit_cast<float>(std::bit_cast<uint32_t>(magnitude) | sign);
}

float fp8_e4m3_to_f32(uint8_t bits) {
  const bool negative = bits & 0x80;
  const int exponent = (bits >> 3) & 0xF;
  const int mantissa = bits & 0x7;
  float magnitude;
  if (exponent == 0xF && mantissa == 0x7) {
    magnitude = std::numeric_limits<float>::quiet_NaN();
  } else if (exponent == 0) {
    magnitude = std::ldexp(static_cast<float>(mantissa), -9);
  } else {
    magnitude = std::ldexp(static_cast<float>(8 + mantissa), exponent - 10);
  }
  return negative ? -magnitude : magnitude;
}

uint8_t f32_to_fp8_e4m3(float value) {
  const uint8_t sign = std::signbit(value) ? 0x80 : 0x00;
  if (std::isnan(value)) return sign | 0x7F;
  const float a = std::fabs(value);
  if (a >= kFp8E4M3Max) return sign | 0x7E;
  if (a < std::ldexp(1.0f, -6)) {
    // Subnormal: multiples of 2^-9; rounding up to 8 lands exactly on the smallest normal (code 8).
    return sign | static_cast<uint8_t>(std::nearbyint(std::ldexp(a, 9)));
  }
  int e;
  const float m = std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
  int exponent = e - 1;
  int mantissa = static_cast<int>(std::nearbyint((m * 2.0f - 1.0f) * 8.0f));
  if (mantissa == 8) {
    mantissa = 0;
    ++exponent;
  }
  const int biased = exponent + 7;
  if (biased > 15 || (biased == 15 && mantissa == 7)) return sign | 0x7E;
  return sign | static_cast<uint8_t>((biased << 3) | mantissa);
}

float fp4_e2m1_to_f32(uint8_t nibble) {
  const float magnitude = kFp4Magnitudes[nibble & 0x7];
  return (nibble & 0x8) ? -magnitude : magnitude;
}

uint8_t f32_to_fp4_e2m1(float value) {
  const uint8_t sign = std::signbit(value) ? 0x8 : 0x0;
  const float a = std::fabs(value);
  // Midpoints between neighbours; at a tie the even code (the one with a zero low bit) wins.
  uint8_t code;
  if (a <= 0.25f) code = 0;
  else if (a < 0.75f) code = 1;
  else if (a <= 1.25f) code = 2;
  else if (a < 1.75f) code = 3;
  else if (a <= 2.5f) code = 4;
  else if (a < 3.5f) code = 5;
  else if (a <= 5.0f) code = 6;
  else code = 7;  // saturates, NaN included
  return sign | code;
}

float ue8m0_to_f32(uint8_t bits) {
  if (bits == 0xFF) return std::numeric_limits<float>::quiet_NaN();
  return std::ldexp(1.0f, static_cast<int>(bits) - 127);
}

}  // namespace baleen
