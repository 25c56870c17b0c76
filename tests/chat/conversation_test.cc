#include "chat/conversation.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace baleen::chat {
namespace {

// Runs conversation_from_json and returns the Error message ("" when it did not throw).
std::string error_of(const char* messages_json) {
  try {
    conversation_from_json(Json::parse(messages_json));
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Conversation, ParsesEveryRoleAndField) {
  const Conversation c = conversation_from_json(Json::parse(R"([
    {"role": "system", "content": "s", "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]},
    {"role": "developer", "content": "d"},
    {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
    {"role": "assistant", "content": null, "reasoning_content": "r",
     "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"z\": 1, \"a\": 2}"}}]},
    {"role": "tool", "tool_call_id": "c1", "content": "ok"}])"));
  ASSERT_EQ(c.messages.size(), 5u);
  EXPECT_EQ(c.messages[0].tools[0]["name"], "f");
  EXPECT_EQ(c.messages[1].role, Role::kDeveloper);
  EXPECT_EQ(c.messages[2].content, "a\n\nb");
  EXPECT_EQ(c.messages[3].reasoning_content, "r");
  EXPECT_EQ(c.messages[3].content, "");
  ASSERT_EQ(c.messages[3].tool_calls.size(), 1u);
  EXPECT_EQ(c.messages[3].tool_calls[0].arguments.dump(), R"({"z":1,"a":2})");  // key order kept
  EXPECT_EQ(c.messages[4].tool_call_id, "c1");
}

TEST(Conversation, KeepsArgumentsThatAreNotJsonAsRawText) {
  const Conversation c = conversation_from_json(Json::parse(
      R"([{"role": "assistant", "tool_calls": [{"id": "x", "function": {"name": "f", "arguments": "not json"}}]}])"));
  EXPECT_EQ(c.messages[0].tool_calls[0].arguments, Json("not json"));
}

TEST(Conversation, RejectsUnknownRole) {
  EXPECT_NE(error_of(R"([{"role": "bot", "content": "x"}])").find("messages[0].role: unknown role \"bot\""),
            std::string::npos);
}

TEST(Conversation, RejectsWrongTypes) {
  EXPECT_NE(error_of(R"({"role": "user"})").find("messages: expected an array"), std::string::npos);
  EXPECT_NE(error_of(R"([{"role": "user", "content": 5}])").find("messages[0].content"), std::string::npos);
  EXPECT_NE(error_of(R"([{"role": 3}])").find("messages[0].role: expected a string"), std::string::npos);
  EXPECT_NE(error_of(R"([{"role": "user", "content": [{"type": "image_url"}]}])")
                .find("messages[0].content[0].type"),
            std::string::npos);
  EXPECT_NE(
      error_of(R"([{"role": "assistant", "tool_calls": [{"function": {"name": 1, "arguments": "{}"}}]}])")
          .find("messages[0].tool_calls[0].function.name"),
      std::string::npos);
  EXPECT_NE(
      error_of(R"([{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "[1]"}}]}])")
          .find("expected a JSON object"),
      std::string::npos);
  EXPECT_NE(error_of(R"([{"role": "user", "content": "x", "tools": []}])").find("messages[0].tools"),
            std::string::npos);
  EXPECT_NE(error_of(R"([{"content": "x"}])").find("messages[0].role: missing"), std::string::npos);
}

TEST(Conversation, RejectsToolResultWithoutItsCall) {
  EXPECT_NE(
      error_of(
          R"([{"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "c9", "content": "r"}])")
          .find("messages[1].tool_call_id: \"c9\" answers no tool call"),
      std::string::npos);
  EXPECT_NE(error_of(R"([{"role": "tool", "content": "r"}])").find("messages[0].tool_call_id"),
            std::string::npos);
}

TEST(Conversation, RejectsDeveloperWithoutContent) {
  EXPECT_NE(error_of(R"([{"role": "developer", "content": ""}])").find("messages[0].content"),
            std::string::npos);
}

TEST(Conversation, InvalidUtf8IsAnErrorNotACrash) {
  EXPECT_THROW(parse_json_text("[{\"role\": \"user\", \"content\": \"\xc3\x28\"}]", "messages"), Error);
}

TEST(Conversation, ToolsAcceptOpenAiWrappersAndBareFunctions) {
  const Json f = tool_functions_from_json(
      Json::parse(R"([{"type": "function", "function": {"name": "a"}}, {"name": "b", "parameters": {}}])"),
      "tools");
  EXPECT_EQ(f[0]["name"], "a");
  EXPECT_EQ(f[1]["name"], "b");
  EXPECT_THROW(tool_functions_from_json(Json::parse(R"([{"type": "function"}])"), "tools"), Error);
}

TEST(Conversation, ParameterTypesReadTheSchema) {
  const Json f = Json::parse(
      R"({"name": "f", "parameters": {"properties": {"a": {"type": "integer"}, "b": {"type": ["string", "null"]}, "c": {}}}})");
  EXPECT_EQ(parameter_types(f, "a"), std::vector<std::string>{"integer"});
  EXPECT_EQ(parameter_types(f, "b"), (std::vector<std::string>{"string", "null"}));
  EXPECT_TRUE(parameter_types(f, "c").empty());
  EXPECT_TRUE(has_parameter(f, "c"));
  EXPECT_FALSE(has_parameter(f, "d"));
}

}  // namespace
}  // namespace baleen::chat
