#include "session/turn_runner.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "chat/python_json.h"
#include "session/loaded_model.h"

namespace baleen::session {
namespace {

// The nano model and the installed tokenizer, loaded once; null (test skipped) without a tokenizer.
LoadedModel* nano() {
  static std::unique_ptr<LoadedModel> loaded = []() -> std::unique_ptr<LoadedModel> {
    const auto tok = tokenizer::default_tokenizer_path();
    if (!std::filesystem::exists(tok)) return nullptr;
    const std::string dir = std::string(BALEEN_SOURCE_DIR) + "/models/baleen-nano";
    // The shards are committed gzipped; scripts/setup.sh unpacks them.
    if (!std::filesystem::exists(dir + "/model-00001-of-00002.safetensors")) return nullptr;
    return std::make_unique<LoadedModel>(std::string(BALEEN_SOURCE_DIR) + "/models/baleen-nano", tok, ModelOptions{.threads = 2});
  }();
  return loaded.get();
}

chat::Conversation ask(const std::string& text) {
  chat::Conversation c;
  c.messages.push_back(text_message(chat::Role::kSystem, "You are baleen-nano, a concise assistant."));
  c.messages.push_back(text_message(chat::Role::kUser, text));
  return c;
}

TEST(TurnRunner, GreedyTurnIsParseableAndStopsAtEndOfSentence) {
  LoadedModel* n = nano();
  if (!n) GTEST_SKIP() << "no tokenizer or unpacked baleen-nano (scripts/setup.sh)";
  TurnRunner session(n->model(), n->tokenizer());
  TurnOptions options;
  options.max_tokens = 96;
  // A request of a trained kind: the test is about the session (stop at end of sentence, parse), and nano's
  // answers to untrained phrasings such as "Say hello." are arbitrary (models/baleen-nano/README.md).
  const TurnResult r = session.turn(ask("Who are you?"), options);
  EXPECT_EQ(r.finish, FinishReason::kStop) << r.raw_text;
  EXPECT_TRUE(r.errors.empty()) << r.raw_text;
  EXPECT_FALSE(r.content.empty());
  EXPECT_EQ(r.reused_tokens, 0);
  EXPECT_GT(r.prompt_tokens, 5);
  EXPECT_LE(r.completion_tokens, 96);
}

TEST(TurnRunner, PrefixReuseGivesTheColdRunsOutput) {
  LoadedModel* n = nano();
  if (!n) GTEST_SKIP() << "no tokenizer or unpacked baleen-nano (scripts/setup.sh)";
  TurnOptions options;
  options.max_tokens = 40;
  TurnRunner warm(n->model(), n->tokenizer());
  chat::Conversation c = ask("Say hello.");
  const TurnResult first = warm.turn(c, options);
  chat::Message answer = text_message(chat::Role::kAssistant, first.content);
  answer.reasoning_content = first.reasoning;
  c.messages.push_back(answer);
  c.messages.push_back(text_message(chat::Role::kUser, "Now say goodbye."));
  const TurnResult second = warm.turn(c, options);
  EXPECT_GT(second.reused_tokens, first.prompt_tokens / 2);
  TurnRunner cold(n->model(), n->tokenizer());
  const TurnResult fresh = cold.turn(c, options);
  EXPECT_EQ(fresh.reused_tokens, 0);
  EXPECT_EQ(second.raw_text, fresh.raw_text);
  EXPECT_EQ(second.completion_tokens, fresh.completion_tokens);
}

TEST(TurnRunner, IndependentRequestsResumeTheSharedPrefixAndGiveTheColdRunsOutput) {
  LoadedModel* n = nano();
  if (!n) GTEST_SKIP() << "no tokenizer or unpacked baleen-nano (scripts/setup.sh)";
  TurnOptions options;
  options.max_tokens = 24;
  options.tools = chat::parse_json_text(
      R"([{"type": "function", "function": {"name": "read_file", "description": "Read a text file.",
           "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}}])",
      "tools");
  const std::vector<std::string> asks = {"Count the lines of a.txt.", "What is in notes.md?", "Say hello.",
                                         "Read b.txt and tell me its first word."};
  TurnRunner warm(n->model(), n->tokenizer());
  const int64_t step = n->model().config().resume_granularity();
  for (size_t i = 0; i < asks.size(); ++i) {
    const TurnResult got = warm.turn(ask(asks[i]), options);
    TurnRunner cold(n->model(), n->tokenizer());
    const TurnResult want = cold.turn(ask(asks[i]), options);
    EXPECT_EQ(got.raw_text, want.raw_text) << asks[i];
    EXPECT_EQ(got.completion_tokens, want.completion_tokens) << asks[i];
    // The first request keeps the states at its prompt's resume boundaries; the later ones resume from the
    // last boundary of the system prompt + tools block they share with it.
    if (i == 0) {
      EXPECT_EQ(got.reused_tokens, 0) << asks[i];
    } else {
      EXPECT_GT(got.reused_tokens, got.prompt_tokens / 2) << asks[i];
      EXPECT_EQ(got.reused_tokens % step, 0) << asks[i];
    }
  }
}

// nano's head has rows for 129,280 ids, its tokenizer 128,847: hot sampling must never pick one it lacks
// (which could not be detokenized and would end the turn with an error).
TEST(TurnRunner, HotSamplingNeverPicksAnIdTheTokenizerLacks) {
  LoadedModel* n = nano();
  if (!n) GTEST_SKIP() << "no tokenizer or unpacked baleen-nano (scripts/setup.sh)";
  ASSERT_LT(static_cast<int64_t>(n->tokenizer().size()), n->model().config().vocab_size);
  TurnRunner session(n->model(), n->tokenizer());
  TurnOptions options;
  options.max_tokens = 120;
  options.raw_output = true;
  options.sampling.temperature = 2.0f;
  for (uint64_t seed : {1, 2, 3}) {
    options.sampling.seed = seed;
    EXPECT_NO_THROW(session.turn(ask("Tell me a long story."), options)) << "seed " << seed;
  }
}

}  // namespace
}  // namespace baleen::session
