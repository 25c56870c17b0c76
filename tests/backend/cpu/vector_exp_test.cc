#include "backend/cpu/vector_exp.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

namespace baleen {
namespace {

float exp_lane0(float x) {
  alignas(32) float out[8];
  _mm256_store_ps(out, cpu::exp8(_mm256_set1_ps(x)));
  return out[0];
}

TEST(CpuVectorExp, WithinTwoUlpOfTheTrueValueOverItsRange) {
  std::mt19937 rng(21);
  std::uniform_real_distribution<float> any(-87.0f, 88.0f), near_zero(-4.0f, 4.0f);
  for (int i = 0; i < 200000; ++i) {
    const float x = i % 2 ? any(rng) : near_zero(rng);
    const double truth = std::exp(double(x));
    const float got = exp_lane0(x), rounded = static_cast<float>(truth);
    const double ulp = double(std::nextafter(rounded, std::numeric_limits<float>::infinity())) - rounded;
    ASSERT_LE(std::fabs(got - truth), 2.0 * ulp) << "x=" << x;
  }
}

TEST(CpuVectorExp, LanesAreIndependentAndSpecialValuesHold) {
  alignas(32) const float x[8] = {0.0f, -1.0f, 1.0f, -87.5f, -1000.0f, -std::numeric_limits<float>::infinity(),
                                  std::numeric_limits<float>::quiet_NaN(), -20.0f};
  alignas(32) float out[8];
  _mm256_store_ps(out, cpu::exp8(_mm256_load_ps(x)));
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_NEAR(out[1], std::exp(-1.0), 1e-7);
  EXPECT_NEAR(out[2], std::exp(1.0), 1e-6);
  EXPECT_EQ(out[3], 0.0f);  // below e^−87
  EXPECT_EQ(out[4], 0.0f);
  EXPECT_EQ(out[5], 0.0f);
  EXPECT_TRUE(std::isnan(out[6]));
  EXPECT_NEAR(out[7], std::exp(-20.0), 1e-15);
}

}  // namespace
}  // namespace baleen
