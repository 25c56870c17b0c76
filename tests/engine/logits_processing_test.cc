// The logits processors of generation: presence / frequency penalties and the sampled tokens' logprobs,
// on crafted rows (exact numbers) and on a real baleen-nano row against an independent float64 softmax.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "../model/nano_checkpoint.h"
#include "backend/cpu/cpu_backend.h"
#include "core/error.h"
#include "engine/generator.h"
#include "engine/model.h"
#include "engine/repetition_penalties.h"
#include "engine/token_logprobs.h"
#include "model/checkpoint.h"

namespace baleen {
namespace {

TEST(RepetitionPenalties, SubtractFrequencyTimesCountPlusPresence) {
  std::vector<float> row = {1.0f, 2.0f, 3.0f, 4.0f};
  RepetitionPenalties p({.presence = 0.5, .frequency = 0.25});
  const std::vector<int32_t> sampled = {3, 3, 1, 3};
  p.apply(row, sampled);
  EXPECT_EQ(row, (std::vector<float>{1.0f, 2.0f - 0.25f - 0.5f, 3.0f, 4.0f - 0.75f - 0.5f}));
}

TEST(RepetitionPenalties, ChangeTheGreedyChoiceAwayFromRepeatedTokens) {
  // Token 3 leads by 0.5; sampled twice, a frequency penalty of 0.3 takes 0.6 off it: token 2 wins.
  const std::vector<float> logits = {0.0f, 1.0f, 3.5f, 4.0f};
  const std::vector<int32_t> sampled = {3, 3};
  std::vector<float> row = logits;
  RepetitionPenalties({.presence = 0, .frequency = 0.3}).apply(row, sampled);
  EXPECT_EQ(argmax(logits), 3);
  EXPECT_EQ(argmax(row), 2);
  EXPECT_FLOAT_EQ(row[3], 3.4f);
  // A negative presence penalty favours what was already said.
  row = {0.0f, 1.0f, 4.0f, 3.5f};
  RepetitionPenalties({.presence = -1.0, .frequency = 0}).apply(row, sampled);
  EXPECT_EQ(argmax(row), 3);
  EXPECT_FLOAT_EQ(row[3], 4.5f);
}

TEST(RepetitionPenalties, CountIncrementallyAsTheSampledTokensGrow) {
  RepetitionPenalties p({.presence = 0, .frequency = 1.0});
  std::vector<int32_t> sampled = {0};
  std::vector<float> row(2, 0.0f);
  p.apply(row, sampled);
  EXPECT_EQ(row, (std::vector<float>{-1.0f, 0.0f}));
  sampled.push_back(0);
  row.assign(2, 0.0f);
  p.apply(row, sampled);
  EXPECT_EQ(row, (std::vector<float>{-2.0f, 0.0f}));  // counted twice, not three times
}

TEST(RepetitionPenalties, RefuseValuesOutsideOpenAisRange) {
  EXPECT_THROW(RepetitionPenalties({.presence = 2.5, .frequency = 0}), Error);
  EXPECT_THROW(RepetitionPenalties({.presence = 0, .frequency = -3}), Error);
}

TEST(TokenLogprobs, AreTheLogSoftmaxWithMaskedIdsAtMinusInfinity) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> row = {1.0f, 3.0f, -inf, 3.0f, 0.0f};
  const TokenLogprob lp = token_logprob(row, 4, 3);
  const double z = std::log(std::exp(1.0) + 2 * std::exp(3.0) + 1.0);
  EXPECT_DOUBLE_EQ(lp.logprob, 0.0 - z);
  ASSERT_EQ(lp.top.size(), 3u);
  EXPECT_EQ(lp.top[0].first, 1);  // a tie goes to the lower id
  EXPECT_EQ(lp.top[1].first, 3);
  EXPECT_EQ(lp.top[2].first, 0);
  EXPECT_DOUBLE_EQ(lp.top[0].second, 3.0 - z);
  EXPECT_DOUBLE_EQ(lp.top[2].second, 1.0 - z);
  EXPECT_EQ(token_logprob(row, 2, 0).logprob, -std::numeric_limits<double>::infinity());
  EXPECT_THROW(token_logprob(row, 5, 0), Error);
  EXPECT_THROW(token_logprob(row, 0, 6), Error);
}

// Generation on baleen-nano: every kept logprob is the float64 log-softmax of the very row the token was
// sampled from (after the processors), summed in another way here (long double, no max shift; float32
// would be off by ~1e-7); greedy picks the top alternative.
TEST(TokenLogprobs, OfANanoSequenceMatchAFloat64SoftmaxOfItsProcessedRows) {
  if (!test::nano_unpacked()) GTEST_SKIP() << "baleen-nano's shards are not unpacked (scripts/setup.sh)";
  Checkpoint checkpoint = Checkpoint::open(test::nano_dir());
  std::unique_ptr<Backend> backend = make_cpu_backend(0);
  Model model{checkpoint.config(), load_weights(checkpoint, *backend, WeightFormat::kStored), *backend};
  SessionState state = model.new_session(StateStorage::kPaper);
  Sequence seq(state, {0, 100, 2000, 3000, 4000}, {}, StopConditions{4, {}});
  std::vector<std::vector<float>> rows;
  seq.process_logits = [&](std::span<float> logits, const Sequence& s) {
    RepetitionPenalties({.presence = 0, .frequency = 1.5}).apply(logits, s.sampled());
    rows.emplace_back(logits.begin(), logits.end());
  };
  seq.keep_logprobs(5);
  Generator(model).run(seq);
  ASSERT_EQ(seq.logprobs().size(), 4u);
  ASSERT_EQ(rows.size(), 4u);
  for (size_t t = 0; t < rows.size(); ++t) {
    const TokenLogprob& lp = seq.logprobs()[t];
    EXPECT_EQ(lp.token, seq.sampled()[t]);
    long double sum = 0;  // no max shift: nano's logits are small enough for exp in long double
    for (const float x : rows[t]) sum += std::exp(static_cast<long double>(x));
    const double want = static_cast<double>(static_cast<long double>(rows[t][lp.token]) - std::log(sum));
    EXPECT_NEAR(lp.logprob, want, 1e-10) << "token " << t;
    ASSERT_EQ(lp.top.size(), 5u);
    EXPECT_EQ(lp.top[0].first, lp.token);  // greedy
    EXPECT_DOUBLE_EQ(lp.top[0].second, lp.logprob);
    for (size_t i = 1; i < lp.top.size(); ++i) EXPECT_LE(lp.top[i].second, lp.top[i - 1].second);
    EXPECT_LT(lp.logprob, 0.0);
  }
}

}  // namespace
}  // namespace baleen
