#include "engine/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "core/error.h"

namespace baleen {
namespace {

const std::vector<float> kLogits = {1.0f, 3.0f, 2.5f, -1.0f, 0.0f};

std::vector<double> frequencies(SamplingParams p, int draws) {
  Sampler s(p);
  std::vector<double> f(kLogits.size(), 0.0);
  for (int i = 0; i < draws; ++i) f[static_cast<size_t>(s.sample(kLogits))] += 1.0 / draws;
  return f;
}

TEST(Sampler, GreedyIsArgmax) {
  Sampler s({});
  EXPECT_EQ(s.sample(kLogits), 1);
}

TEST(Sampler, SameSeedSameTokens) {
  Sampler a({1.0f, 0, 1.0f, 0.0f, 7}), b({1.0f, 0, 1.0f, 0.0f, 7});
  for (int i = 0; i < 50; ++i) EXPECT_EQ(a.sample(kLogits), b.sample(kLogits));
}

TEST(Sampler, FrequenciesFollowTheTemperedSoftmax) {
  const float temperature = 0.8f;
  const auto f = frequencies({temperature, 0, 1.0f, 0.0f, 1}, 200000);
  double z = 0;
  for (float l : kLogits) z += std::exp(l / temperature);
  for (size_t i = 0; i < kLogits.size(); ++i)
    EXPECT_NEAR(f[i], std::exp(kLogits[i] / temperature) / z, 0.005);
}

TEST(Sampler, TopKKeepsOnlyTheKBest) {
  const auto f = frequencies({1.0f, 2, 1.0f, 0.0f, 2}, 20000);
  EXPECT_EQ(f[0] + f[3] + f[4], 0.0);
  const double want = 1.0 / (1.0 + std::exp(2.5 - 3.0));
  EXPECT_NEAR(f[1], want, 0.01);
}

TEST(Sampler, TopPKeepsTheSmallestPrefixReachingTheMass) {
  // softmax ≈ {0.07, 0.52, 0.32, 0.01, 0.03}: p = 0.8 keeps tokens 1 and 2 only.
  const auto f = frequencies({1.0f, 0, 0.8f, 0.0f, 3}, 20000);
  EXPECT_EQ(f[0] + f[3] + f[4], 0.0);
  EXPECT_GT(f[2], 0.3);
}

TEST(Sampler, MinPDropsTokensBelowAFractionOfTheBest) {
  // min_p 0.2 of p(1) ≈ 0.52 drops everything under ≈ 0.10: tokens 0, 3, 4.
  const auto f = frequencies({1.0f, 0, 1.0f, 0.2f, 4}, 20000);
  EXPECT_EQ(f[0] + f[3] + f[4], 0.0);
  EXPECT_GT(f[1], f[2]);
}

TEST(Sampler, RejectsBadParameters) {
  EXPECT_THROW(Sampler({-1.0f, 0, 1.0f, 0.0f, 0}), Error);
  EXPECT_THROW(Sampler({1.0f, 0, 0.0f, 0.0f, 0}), Error);
}

}  // namespace
}  // namespace baleen
