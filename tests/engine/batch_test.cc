// Many sessions in one forward pass (engine/model.h): each sequence's logits and state are bit for bit what
// running it alone gives, with decode tokens and prefill chunks of different lengths mixed, for 1, 3 and 8
// sequences at different positions, in both storage modes.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <random>

#include "../backend/cpu/random_inputs.h"
#include "backend/cpu/cpu_backend.h"
#include "core/error.h"
#include "engine/generator.h"
#include "engine/model.h"
#include "small_model.h"

namespace baleen {
namespace {

struct Plan {
  std::vector<int32_t> prefix;  // held before the batched step
  std::vector<int32_t> step;    // fed in the batched step: one token (decode) or a chunk (prefill)
  std::vector<int32_t> next;    // one more decode token afterwards
};

std::vector<Plan> plans(int64_t n, int64_t vocab, std::mt19937& rng) {
  std::uniform_int_distribution<int> prefix_len(0, 45), chunk_len(2, 11);
  std::vector<Plan> out;
  for (int64_t i = 0; i < n; ++i) {
    const auto seed = static_cast<uint32_t>(rng());
    const int64_t p = prefix_len(rng), s = i % 2 == 0 ? 1 : chunk_len(rng);
    const std::vector<int32_t> ids = test::random_ids(p + s + 1, vocab, seed);
    out.push_back({{ids.begin(), ids.begin() + p}, {ids.begin() + p, ids.begin() + p + s}, {ids.back()}});
  }
  return out;
}

bool same_bits(const float* a, const float* b, int64_t n) {
  return std::equal(a, a + n, b, [](float x, float y) { return std::bit_cast<uint32_t>(x) == std::bit_cast<uint32_t>(y); });
}

TEST(Batch, EachSequenceGetsTheLogitsOfRunningItAlone) {
  const Config config = test::small_config();
  const ModelWeights weights = random_weights(config, 42);
  auto backend = make_cpu_backend(2);
  Model model(config, weights, *backend);
  const int64_t v = config.vocab_size;
  std::mt19937 rng(31);
  for (StateStorage storage : {StateStorage::kFp32, StateStorage::kPaper}) {
    for (int64_t n : {1, 3, 8}) {
      SCOPED_TRACE(fmt::format("{} sequences, {}", n, storage == StateStorage::kPaper ? "paper" : "fp32"));
      const std::vector<Plan> ps = plans(n, v, rng);
      std::vector<Tensor> alone_step, alone_next;
      for (const Plan& p : ps) {
        SessionState s = model.new_session(storage);
        model.forward(p.prefix, s, LogitRows::kNone);
        alone_step.push_back(model.forward(p.step, s, LogitRows::kAll));
        alone_next.push_back(model.forward(p.next, s, LogitRows::kAll));
      }
      std::vector<SessionState> states;
      for (const Plan& p : ps) {
        states.push_back(model.new_session(storage));
        model.forward(p.prefix, states.back(), LogitRows::kNone);
      }
      std::vector<BatchSequence> batch;
      for (int64_t i = 0; i < n; ++i) batch.push_back({&states[static_cast<size_t>(i)], ps[static_cast<size_t>(i)].step, LogitRows::kAll});
      const Tensor stepped = model.forward(batch);
      int64_t row = 0;
      for (int64_t i = 0; i < n; ++i) {
        const Tensor& want = alone_step[static_cast<size_t>(i)];
        EXPECT_TRUE(same_bits(stepped.data() + row * v, want.data(), want.size())) << "sequence " << i << " step";
        row += want.dim(0);
      }
      EXPECT_EQ(row, stepped.dim(0));
      // The states the batch left behind continue as the lone runs' did: one decode token each, last rows only.
      batch.clear();
      for (int64_t i = 0; i < n; ++i) batch.push_back({&states[static_cast<size_t>(i)], ps[static_cast<size_t>(i)].next, LogitRows::kLast});
      const Tensor next = model.forward(batch);
      ASSERT_EQ(next.dim(0), n);
      for (int64_t i = 0; i < n; ++i) {
        EXPECT_TRUE(same_bits(next.data() + i * v, alone_next[static_cast<size_t>(i)].data(), v)) << "sequence " << i << " next";
        EXPECT_EQ(states[static_cast<size_t>(i)].length(),
                  static_cast<int64_t>(ps[static_cast<size_t>(i)].prefix.size() + ps[static_cast<size_t>(i)].step.size() + 1));
      }
    }
  }
}

TEST(Batch, MixedStorageModesInOneForwardAreRefused) {
  const Config config = test::small_config();
  auto backend = make_cpu_backend(1);
  Model model(config, random_weights(config, 1), *backend);
  SessionState a = model.new_session(StateStorage::kFp32), b = model.new_session(StateStorage::kPaper);
  const std::vector<int32_t> ids = {1, 2};
  const BatchSequence batch[] = {{&a, ids, LogitRows::kLast}, {&b, ids, LogitRows::kLast}};
  EXPECT_THROW(model.forward(batch), Error);
}

// The generator batches sequences too: greedy continuations of several prompts stepped together equal each
// prompt generated alone.
TEST(Batch, GeneratorStepsSequencesTogetherAsTheyWouldRunAlone) {
  const Config config = test::small_config();
  auto backend = make_cpu_backend(2);
  Model model(config, random_weights(config, 7), *backend);
  std::vector<std::vector<int32_t>> prompts;
  for (int64_t len : {1, 7, 30, 300}) prompts.push_back(test::random_ids(len, config.vocab_size, static_cast<uint32_t>(len)));
  std::vector<std::vector<int32_t>> alone;
  Generator gen(model, 64);  // a 300-token prompt takes several chunks while the others decode
  for (const auto& p : prompts) {
    SessionState s = model.new_session(StateStorage::kPaper);
    Sequence seq(s, p, SamplingParams{}, {12, {}});
    gen.run(seq);
    alone.push_back(seq.sampled());
  }
  std::vector<SessionState> states;
  std::vector<Sequence> seqs;
  for (size_t i = 0; i < prompts.size(); ++i) states.push_back(model.new_session(StateStorage::kPaper));
  for (size_t i = 0; i < prompts.size(); ++i) seqs.emplace_back(states[i], prompts[i], SamplingParams{}, StopConditions{12, {}});
  std::vector<Sequence*> all;
  for (Sequence& s : seqs) all.push_back(&s);
  while (std::any_of(all.begin(), all.end(), [](Sequence* s) { return !s->finished(); })) gen.step(all);
  for (size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(seqs[i].sampled(), alone[i]) << "prompt " << i;
}

// A step held to a token budget feeds every decode token and at most what is left of the budget in prefill
// chunks, stops a chunk at a sequence's checkpoint, and changes no sequence's tokens.
TEST(Batch, StepsWithinATokenBudgetAndCheckpointsGiveTheSameTokens) {
  const Config config = test::small_config();
  auto backend = make_cpu_backend(2);
  Model model(config, random_weights(config, 7), *backend);
  std::vector<std::vector<int32_t>> prompts;
  for (int64_t len : {1, 3, 45, 130})
    prompts.push_back(test::random_ids(len, config.vocab_size, static_cast<uint32_t>(len) + 5));
  std::vector<std::vector<int32_t>> alone;
  Generator unbounded(model, 64);
  for (const auto& p : prompts) {
    SessionState s = model.new_session(StateStorage::kPaper);
    Sequence seq(s, p, SamplingParams{}, {10, {}});
    unbounded.run(seq);
    alone.push_back(seq.sampled());
  }
  constexpr int64_t kBudget = 6, kCheckpoint = 37;
  Generator gen(model, 64);
  std::vector<SessionState> states;
  std::vector<Sequence> seqs;
  for (size_t i = 0; i < prompts.size(); ++i) states.push_back(model.new_session(StateStorage::kPaper));
  for (size_t i = 0; i < prompts.size(); ++i)
    seqs.emplace_back(states[i], prompts[i], SamplingParams{}, StopConditions{10, {}});
  seqs[3].set_checkpoint(kCheckpoint);
  std::vector<Sequence*> all;
  for (Sequence& s : seqs) all.push_back(&s);
  bool stopped_at_checkpoint = false;
  while (std::any_of(all.begin(), all.end(), [](Sequence* s) { return !s->finished(); })) {
    int64_t before = 0, decoding = 0;
    for (const SessionState& st : states) before += st.length();
    for (const Sequence* s : all) decoding += !s->finished() && s->pending() == 1;
    gen.step(all, kBudget);
    int64_t after = 0;
    for (const SessionState& st : states) after += st.length();
    EXPECT_LE(after - before, std::max(kBudget, decoding)) << "a step fed more than its budget";
    EXPECT_GT(after, before) << "a step fed nothing";
    stopped_at_checkpoint |= states[3].length() == kCheckpoint;
  }
  EXPECT_TRUE(stopped_at_checkpoint) << "no step ended the long prompt's chunk at its checkpoint";
  for (size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(seqs[i].sampled(), alone[i]) << "prompt " << i;
}

}  // namespace
}  // namespace baleen
