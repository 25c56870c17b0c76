#include "core/dtype.h"

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace baleen {
namespace {

// e4m3fn decoded from its definition in float64: (-1)^s * 2^(e-7) * (1 + m/8), subnormal at e == 0.
double e4m3_truth(int code) {
  const int s = code >> 7, e = (code >> 3) & 15, m = code & 7;
  if (e == 15 && m == 7) return std::numeric_limits<double>::quiet_NaN();
  const double mag = e == 0 ? std::ldexp(m / 8.0, -6) : std::ldexp(1.0 + m / 8.0, e - 7);
  return s ? -mag : mag;
}

// The nearest representable value, ties to the even code, by brute force over the whole table.
int nearest_e4m3(float x) {
  int best = -1;
  double best_err = 0;
  for (int c = 0; c < 256; ++c) {
    const double v = e4m3_truth(c);
    if (std::isnan(v) || std::signbit(v) != std::signbit(x)) continue;
    const double err = std::fabs(v - std::clamp<double>(x, -448.0, 448.0));
    if (best < 0 || err < best_err || (err == best_err && (c & 1) == 0)) {
      best = c;
      best_err = err;
    }
  }
  return best;
}

TEST(DType, Fp8DecodeMatchesDefinitionForEveryCode) {
  for (int c = 0; c < 256; ++c) {
    const double want = e4m3_truth(c);
    const float got = fp8_e4m3_to_f32(static_cast<uint8_t>(c));
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got)) << "code " << c;
    } else {
      EXPECT_EQ(got, want) << "code " << c;
    }
  }
}

TEST(DType, Fp8EncodeRoundTripsEveryFiniteCode) {
  for (int c = 0; c < 256; ++c) {
    const float v = fp8_e4m3_to_f32(static_cast<uint8_t>(c));
    if (std::isnan(v)) continue;
    EXPECT_EQ(fp8_e4m3_to_f32(f32_to_fp8_e4m3(v)), v) << "code " << c;
  }
}

TEST(DType, Fp8EncodeRoundsToNearestEvenAndSaturates) {
  std::mt19937 rng(1234);
  std::uniform_real_distribution<float> exponent(-12.0f, 10.0f);
  std::bernoulli_distribution negative(0.5);
  for (int i = 0; i < 20000; ++i) {
    float x = std::exp2(exponent(rng));
    if (negative(rng)) x = -x;
    const int want = nearest_e4m3(x);
    const int got = f32_to_fp8_e4m3(x);
    ASSERT_EQ(fp8_e4m3_to_f32(static_cast<uint8_t>(got)), e4m3_truth(want)) << "x=" << x;
  }
  // Exact midpoints between neighbours go to the even code.
  for (int c = 0; c < 126; ++c) {
    const float lo = fp8_e4m3_to_f32(static_cast<uint8_t>(c));
    const float hi = fp8_e4m3_to_f32(static_cast<uint8_t>(c + 1));
    const float mid = (lo + hi) / 2;
    EXPECT_EQ(f32_to_fp8_e4m3(mid) & 1, 0) << "midpoint of codes " << c << "," << c + 1;
  }
  EXPECT_EQ(fp8_e4m3_to_f32(f32_to_fp8_e4m3(1e9f)), 448.0f);
  EXPECT_EQ(fp8_e4m3_to_f32(f32_to_fp8_e4m3(-500.0f)), -448.0f);
  EXPECT_TRUE(std::isnan(fp8_e4m3_to_f32(f32_to_fp8_e4m3(std::nanf("")))));
}

TEST(DType, Fp4CodesAndRounding) {
  const float magnitudes[8] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
  for (int c = 0; c < 16; ++c) {
    const float want = (c & 8) ? -magnitudes[c & 7] : magnitudes[c & 7];
    EXPECT_EQ(fp4_e2m1_to_f32(static_cast<uint8_t>(c)), want) << "nibble " << c;
    EXPECT_EQ(fp4_e2m1_to_f32(f32_to_fp4_e2m1(want)), want) << "nibble " << c;
  }
  std::mt19937 rng(99);
  std::uniform_real_distribution<float> dist(-8.0f, 8.0f);
  for (int i = 0; i < 20000; ++i) {
    const float x = dist(rng);
    const float got = fp4_e2m1_to_f32(f32_to_fp4_e2m1(x));
    float best = 0;
    for (float m : magnitudes) {
      const float v = std::copysign(m, x);
      if (std::fabs(v - std::clamp(x, -6.0f, 6.0f)) < std::fabs(best - std::clamp(x, -6.0f, 6.0f))) best = v;
    }
    ASSERT_FLOAT_EQ(std::fabs(got - x), std::fabs(best - x)) << "x=" << x;
  }
  EXPECT_EQ(f32_to_fp4_e2m1(2.5f), 4);   // tie between 2 and 3 goes to the even code
  EXPECT_EQ(f32_to_fp4_e2m1(0.75f), 2);  // tie between 0.5 and 1
}

TEST(DType, Bf16RoundTripAndRounding) {
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 100.0f);
  for (int i = 0; i < 10000; ++i) {
    const float x = dist(rng);
    const float y = bf16_to_f32(f32_to_bf16(x));
    ASSERT_LE(std::fabs(y - x), std::fabs(x) * std::ldexp(1.0f, -8)) << "x=" << x;
    ASSERT_EQ(bf16_to_f32(f32_to_bf16(y)), y);
  }
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.0f + std::ldexp(1.0f, -8))), 1.0f);  // tie to even
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::nanf("")))));
}

TEST(DType, F16DecodesNormalsSubnormalsAndSpecials) {
  EXPECT_EQ(f16_to_f32(0x3C00), 1.0f);
  EXPECT_EQ(f16_to_f32(0xC000), -2.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(f16_to_f32(0x7BFF), 65504.0f);
  EXPECT_TRUE(std::isinf(f16_to_f32(0x7C00)));
  EXPECT_TRUE(std::isnan(f16_to_f32(0x7E00)));
}

TEST(DType, Ue8m0IsAPowerOfTwo) {
  EXPECT_EQ(ue8m0_to_f32(127), 1.0f);
  EXPECT_EQ(ue8m0_to_f32(130), 8.0f);
  EXPECT_EQ(ue8m0_to_f32(120), std::ldexp(1.0f, -7));
  EXPECT_TRUE(std::isnan(ue8m0_to_f32(255)));
}

TEST(DType, NamesRoundTrip) {
  for (DType t : {DType::kF32, DType::kBF16, DType::kF16, DType::kF8E4M3, DType::kI64}) {
    EXPECT_EQ(dtype_from_name(dtype_name(t)), t);
  }
  EXPECT_FALSE(dtype_from_name("F128").has_value());
  EXPECT_EQ(dtype_bits(DType::kF4E2M1x2), 4);
}

}  // namespace
}  // namespace baleen
