#include "server/messages_request.h"

#include <gtest/gtest.h>

#include "server/api_error.h"

namespace baleen::server {
namespace {

using chat::Json;
using chat::Role;

Json body(Json messages) {
  return {{"model", "claude-opus-5-5"}, {"max_tokens", 32}, {"messages", std::move(messages)}};
}

const Json kHello = Json::array({{{"role", "user"}, {"content", "Say hello."}}});

MessagesRequest parse(const Json& b) {
  return parse_messages_request(b.dump(), session::TurnOptions{});
}

void expect_error(const Json& b, int status, std::string_view mention, bool count_tokens = false) {
  try {
    parse_messages_request(b.dump(), session::TurnOptions{}, count_tokens);
    ADD_FAILURE() << "accepted: " << b.dump();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), status) << e.what();
    EXPECT_EQ(e.anthropic_body()["type"], "error");
    EXPECT_EQ(e.anthropic_body()["error"]["type"], "invalid_request_error");
    EXPECT_NE(std::string(e.what()).find(mention), std::string::npos) << e.what() << " lacks " << mention;
  }
}

TEST(MessagesRequest, DropsTheBillingHeaderAndKeepsSystemMessagesInPlace) {
  Json b = body(Json::array({{{"role", "system"}, {"content", "Be brief."}},
                             {{"role", "user"}, {"content", "Hi."}},
                             {{"role", "assistant"}, {"content", "Hello."}},
                             {{"role", "system"}, {"content", "Now in French."}},
                             {{"role", "user"}, {"content", "Again."}}}));
  b["system"] = Json::array({{{"type", "text"}, {"text", "x-anthropic-billing-header: cc_version=1; cch=ab12;"}},
                             {{"type", "text"}, {"text", "You are nano."}, {"cache_control", {{"type", "ephemeral"}}}}});
  const MessagesRequest r = parse(b);
  const auto& m = r.conversation.messages;
  ASSERT_EQ(m.size(), 5u);
  EXPECT_EQ(m[0].role, Role::kSystem);
  EXPECT_EQ(m[0].content, "You are nano.\n\nBe brief.");
  EXPECT_EQ(m[3].role, Role::kUser) << "a later system message is a turn where it stands";
  EXPECT_EQ(m[3].content, "Now in French.");
  EXPECT_EQ(r.turn.max_tokens, 32);
}

TEST(MessagesRequest, ReadsToolUseToolResultAndThinking) {
  Json b = body(Json::array(
      {{{"role", "user"}, {"content", "Count."}},
       {{"role", "assistant"},
        {"content",
         {{{"type", "thinking"}, {"thinking", "use wc"}, {"signature", "baleen:msg_1"}},
          {{"type", "redacted_thinking"}, {"data", "opaque"}},
          {{"type", "tool_use"}, {"id", "toolu_1"}, {"name", "run_command"}, {"input", {{"command", "wc -l a"}}}}}}},
       {{"role", "user"},
        {"content",
         {{{"type", "tool_result"}, {"tool_use_id", "toolu_1"}, {"content", "no such file"}, {"is_error", true}},
          {{"type", "text"}, {"text", "Try again."}}}}}}));
  b["tools"] = Json::array({{{"name", "run_command"}, {"description", "Run."},
                             {"input_schema", {{"type", "object"}, {"properties", {{"command", {{"type", "string"}}}}}}}}});
  b["thinking"] = {{"type", "enabled"}, {"budget_tokens", 40000}};
  b["stop_sequences"] = Json::array({"END"});
  const MessagesRequest r = parse(b);
  const auto& m = r.conversation.messages;
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[1].reasoning_content, "use wc");
  EXPECT_EQ(r.signatures[1], "baleen:msg_1");
  ASSERT_EQ(m[1].tool_calls.size(), 1u);
  EXPECT_EQ(m[1].tool_calls[0].arguments, (Json{{"command", "wc -l a"}}));
  EXPECT_EQ(m[2].role, Role::kTool);
  EXPECT_EQ(m[2].content, "Error: no such file");
  EXPECT_EQ(m[3].content, "Try again.");
  EXPECT_TRUE(r.turn.render.thinking);
  EXPECT_EQ(r.turn.render.effort.level, "max");
  EXPECT_EQ(r.turn.tools[0]["parameters"]["type"], "object");
  EXPECT_EQ(r.turn.stop_sequences, std::vector<std::string>{"END"});

  b["tool_choice"] = {{"type", "none"}};
  b["thinking"] = {{"type", "disabled"}};
  b["output_config"] = {{"effort", "medium"}};
  const MessagesRequest none = parse(b);
  EXPECT_TRUE(none.turn.tools.is_null());
  EXPECT_FALSE(none.turn.render.thinking);
  EXPECT_EQ(none.turn.render.effort.level, "high");
  EXPECT_TRUE(r.turn.forced_tools.is_null());

  b["tool_choice"] = {{"type", "any"}};
  const MessagesRequest any = parse(b);
  EXPECT_EQ(any.turn.forced_tools, any.turn.tools);
  EXPECT_TRUE(any.turn.parallel_tool_calls);
  b["tool_choice"] = {{"type", "tool"}, {"name", "run_command"}, {"disable_parallel_tool_use", true}};
  const MessagesRequest named = parse(b);
  ASSERT_EQ(named.turn.forced_tools.size(), 1u);
  EXPECT_EQ(named.turn.forced_tools[0]["name"], "run_command");
  EXPECT_FALSE(named.turn.parallel_tool_calls);
}

TEST(MessagesRequest, BadBodiesNameWhatIsWrong) {
  Json unknown = body(kHello);
  unknown["frobnicate"] = 1;
  expect_error(unknown, 400, "frobnicate");
  Json no_max = body(kHello);
  no_max.erase("max_tokens");
  expect_error(no_max, 400, "max_tokens");
  expect_error(body(Json::array()), 400, "at least one message");
  expect_error(body(Json::array({{{"role", "user"},
                                  {"content", {{{"type", "image"}, {"source", {{"type", "base64"}}}}}}}})),
               400, "image");
  expect_error(body(Json::array({{{"role", "user"},
                                  {"content", {{{"type", "tool_result"}, {"tool_use_id", "toolu_9"}}}}}})),
               400, "toolu_9");
  expect_error(body(Json::array({{{"role", "wizard"}, {"content", "hi"}}})), 400, "messages[0].role");
  Json bad_temp = body(kHello);
  bad_temp["temperature"] = "warm";
  expect_error(bad_temp, 400, "temperature");
  Json bad_thinking = body(kHello);
  bad_thinking["thinking"] = {{"type", "sometimes"}};
  expect_error(bad_thinking, 400, "thinking.type");
  Json bad_choice = body(kHello);
  bad_choice["tool_choice"] = {{"type", "tool"}, {"name", "nothing"}};
  expect_error(bad_choice, 400, "nothing");
  Json forced_without_tools = body(kHello);
  forced_without_tools["tool_choice"] = {{"type", "any"}};
  expect_error(forced_without_tools, 400, "needs tools");
  expect_error(Json{{"messages", kHello}, {"max_tokens", 3}}, 400, "max_tokens", /*count_tokens=*/true);
  EXPECT_NO_THROW(parse_messages_request(Json{{"messages", kHello}}.dump(), {}, /*count_tokens=*/true));
  expect_error(Json("not an object"), 400, "JSON object");
}

}  // namespace
}  // namespace baleen::server
