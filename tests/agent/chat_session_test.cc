#include "agent/session/chat_session.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "agent/session/loaded_model.h"

namespace baleen::agent {
namespace {

// The nano model and the installed tokenizer, loaded once; null (test skipped) without a tokenizer.
LoadedModel* nano() {
  static std::unique_ptr<LoadedModel> loaded = []() -> std::unique_ptr<LoadedModel> {
    const auto tok = tokenizer::default_tokenizer_path();
    if (!std::filesystem::exists(tok)) return nullptr;
    const std::string dir = std::string(BALEEN_SOURCE_DIR) + "/models/baleen-nano";
    // The shards are committed gzipped; scripts/setup.sh unpacks them.
    if (!std::filesystem::exists(dir + "/model-00001-of-00002.safetensors")) return nullptr;
    return std::make_unique<LoadedModel>(std::string(BALEEN_SOURCE_DIR) + "/models/baleen-nano", tok, 2);
  }();
  return loaded.get();
}

chat::Conversation ask(const std::string& text) {
  chat::Conversation c;
  c.messages.push_back(text_message(chat::Role::kSystem, "You are baleen-nano, a concise assistant."));
  c.messages.push_back(text_message(chat::Role::kUser, text));
  return c;
}

TEST(ChatSession, GreedyTurnIsParseableAndStopsAtEndOfSentence) {
  LoadedModel* n = nano();
  if (!n) GTEST_SKIP() << "no tokenizer or unpacked baleen-nano (scripts/setup.sh)";
  ChatSession session(n->model(), n->tokenizer());
  TurnOptions options;
  options.max_tokens = 96;
  const TurnResult r = session.turn(ask("Say hello."), options);
  EXPECT_EQ(r.finish, FinishReason::kStop) << r.raw_text;
  EXPECT_TRUE(r.errors.empty()) << r.raw_text;
  EXPECT_FALSE(r.content.empty());
  EXPECT_EQ(r.reused_tokens, 0);
  EXPECT_GT(r.prompt_tokens, 5);
  EXPECT_LE(r.completion_tokens, 96);
}

TEST(ChatSession, PrefixReuseGivesTheColdRunsOutput) {
  LoadedModel* n = nano();
  if (!n) GTEST_SKIP() << "no tokenizer or unpacked baleen-nano (scripts/setup.sh)";
  TurnOptions options;
  options.max_tokens = 40;
  ChatSession warm(n->model(), n->tokenizer());
  chat::Conversation c = ask("Say hello.");
  const TurnResult first = warm.turn(c, options);
  chat::Message answer = text_message(chat::Role::kAssistant, first.content);
  answer.reasoning_content = first.reasoning;
  c.messages.push_back(answer);
  c.messages.push_back(text_message(chat::Role::kUser, "Now say goodbye."));
  const TurnResult second = warm.turn(c, options);
  EXPECT_GT(second.reused_tokens, first.prompt_tokens / 2);
  ChatSession cold(n->model(), n->tokenizer());
  const TurnResult fresh = cold.turn(c, options);
  EXPECT_EQ(fresh.reused_tokens, 0);
  EXPECT_EQ(second.raw_text, fresh.raw_text);
  EXPECT_EQ(second.completion_tokens, fresh.completion_tokens);
}

}  // namespace
}  // namespace baleen::agent
