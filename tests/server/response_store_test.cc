// Stored responses kept in a file (server/response_store.h): a reopened store has the last 256 with every
// field of their histories, the log is rewritten to those once it holds more, and a record that is not
// a stored response is skipped.
#include "server/response_store.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace baleen::server {
namespace {

namespace fs = std::filesystem;
using chat::Json;

chat::Conversation history_of(int i) {
  chat::Conversation c;
  c.messages.resize(3);
  c.messages[0].content = fmt::format("question {}", i);
  chat::Message& answer = c.messages[1];
  answer.role = chat::Role::kAssistant;
  answer.content = "answer";
  answer.reasoning_content = "because";
  answer.tool_calls = {{"call_1", "read", Json{{"path", fmt::format("f{}", i)}}}};
  answer.sampled = "because</think>answer";
  c.messages[2].role = chat::Role::kTool;
  c.messages[2].content = "text";
  c.messages[2].tool_call_id = "call_1";
  return c;
}

TEST(ResponseStore, AReopenedStoreHasTheLast256WithTheirHistoriesAndRewritesItsLog) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("baleen_response_store_{}", ::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path file = dir / "responses.log";
  {
    ResponseStore store(file);
    for (int i = 0; i < 300; ++i) store.put(fmt::format("resp_{}", i), Json{{"n", i}}, history_of(i));
  }
  trajectory::TrajectoryLog::open(file.string()).append("not json");
  ResponseStore store(file);
  EXPECT_EQ(store.size(), 256u);
  EXPECT_FALSE(store.response("resp_43"));
  ASSERT_TRUE(store.response("resp_44"));
  EXPECT_EQ((*store.response("resp_299"))["n"], 299);
  const std::optional<chat::Conversation> h = store.history("resp_123");
  ASSERT_TRUE(h);
  const chat::Conversation want = history_of(123);
  ASSERT_EQ(h->messages.size(), want.messages.size());
  for (size_t i = 0; i < want.messages.size(); ++i) {
    const chat::Message &a = h->messages[i], &b = want.messages[i];
    EXPECT_EQ(a.role, b.role);
    EXPECT_EQ(a.content, b.content);
    EXPECT_EQ(a.reasoning_content, b.reasoning_content);
    EXPECT_EQ(a.tool_calls, b.tool_calls);
    EXPECT_EQ(a.tool_call_id, b.tool_call_id);
    EXPECT_EQ(a.sampled, b.sampled);
  }
  EXPECT_EQ(trajectory::TrajectoryLog::read(file.string()).payloads.size(), 256u)
      << "the log was not compacted";
  fs::remove_all(dir);
}

}  // namespace
}  // namespace baleen::server
