#include "server/chat_request.h"

#include <gtest/gtest.h>

#include <random>

#include "server/api_error.h"

namespace baleen::server {
namespace {

using chat::Json;

const Json kMessages = Json::parse(R"([{"role": "user", "content": "Say hello."}])");

ChatRequest parse(const Json& body) {
  return parse_chat_request(body.dump(), session::TurnOptions{});
}

// The ApiError a body raises: its status and param, and that the message names `mention`.
void expect_error(std::string_view body, int status, std::string_view param, std::string_view mention) {
  try {
    parse_chat_request(body, session::TurnOptions{});
    ADD_FAILURE() << "accepted: " << body;
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), status) << e.what();
    EXPECT_EQ(e.body()["error"]["param"], param.empty() ? Json() : Json(param)) << e.what();
    EXPECT_NE(std::string(e.what()).find(mention), std::string::npos) << e.what() << " lacks " << mention;
  }
}

Json with(std::string_view key, Json value) {
  Json body = {{"messages", kMessages}};
  body[key] = std::move(value);
  return body;
}

TEST(ChatRequest, ReadsSamplingLimitsAndStreaming) {
  std::mt19937_64 rng(7);
  const int64_t seed = static_cast<int64_t>(rng() >> 1);
  const int64_t max_tokens = 1 + static_cast<int64_t>(rng() % 1000);
  Json body = {{"model", "baleen-nano"}, {"messages", kMessages},
               {"temperature", 0.5},     {"top_p", 0.9},
               {"seed", seed},           {"max_completion_tokens", max_tokens},
               {"stream", true},         {"stream_options", {{"include_usage", true}}}};
  const ChatRequest r = parse(body);
  EXPECT_EQ(r.model, "baleen-nano");
  EXPECT_FLOAT_EQ(r.turn.sampling.temperature, 0.5f);
  EXPECT_FLOAT_EQ(r.turn.sampling.top_p, 0.9f);
  EXPECT_EQ(r.turn.sampling.seed, static_cast<uint64_t>(seed));
  EXPECT_EQ(r.turn.max_tokens, max_tokens);
  EXPECT_TRUE(r.max_tokens_given);
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  ASSERT_EQ(r.conversation.messages.size(), 1u);
}

TEST(ChatRequest, DefaultsFillWhatTheRequestLeavesOut) {
  session::TurnOptions defaults;
  defaults.max_tokens = 77;
  defaults.render.thinking = true;
  const ChatRequest r = parse_chat_request(Json{{"messages", kMessages}}.dump(), defaults);
  EXPECT_EQ(r.turn.max_tokens, 77);
  EXPECT_FALSE(r.max_tokens_given);
  EXPECT_TRUE(r.turn.render.thinking);
  EXPECT_FALSE(r.stream);
}

TEST(ChatRequest, ThinkingFromEverySpelling) {
  EXPECT_TRUE(parse(with("chat_template_kwargs", {{"thinking", true}})).turn.render.thinking);
  EXPECT_TRUE(parse(with("thinking", {{"type", "enabled"}})).turn.render.thinking);
  EXPECT_FALSE(parse(with("thinking", {{"type", "disabled"}})).turn.render.thinking);
  EXPECT_TRUE(parse(with("thinking", true)).turn.render.thinking);
  Json both = with("thinking", false);
  both["chat_template_kwargs"] = {{"thinking", true}};
  expect_error(both.dump(), 400, "thinking", "disagree");
  expect_error(with("chat_template_kwargs", {{"enable_thinking", true}}).dump(), 400, "chat_template_kwargs",
               "enable_thinking");
}

TEST(ChatRequest, ToolChoiceNoneHidesTheTools) {
  const Json tools = Json::parse(R"([{"type": "function", "function": {"name": "f", "description": "d",
      "parameters": {"type": "object", "properties": {}}}}])");
  Json body = with("tools", tools);
  const ChatRequest offered = parse(body);
  EXPECT_EQ(offered.turn.tools, tools);
  ASSERT_EQ(offered.conversation.messages.size(), 2u);  // a system message carries the tools
  body["tool_choice"] = "none";
  const ChatRequest hidden = parse(body);
  EXPECT_TRUE(hidden.turn.tools.is_null());
  EXPECT_EQ(hidden.conversation.messages.size(), 1u);
  EXPECT_TRUE(offered.turn.forced_tools.is_null());
}

TEST(ChatRequest, ToolChoiceRequiredOrNamedForcesACall) {
  const Json tools = Json::parse(R"([
      {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}},
      {"type": "function", "function": {"name": "g", "parameters": {"type": "object", "properties": {}}}}])");
  Json body = with("tools", tools);
  body["tool_choice"] = "required";
  const ChatRequest required = parse(body);
  EXPECT_EQ(required.turn.forced_tools, tools);
  EXPECT_TRUE(required.turn.parallel_tool_calls);
  body["tool_choice"] = {{"type", "function"}, {"function", {{"name", "g"}}}};
  body["parallel_tool_calls"] = false;
  const ChatRequest named = parse(body);
  EXPECT_EQ(named.turn.forced_tools, Json::array({tools[1]}));
  EXPECT_EQ(named.turn.tools, Json::array({tools[1]}));  // only the named tool is offered
  EXPECT_FALSE(named.turn.parallel_tool_calls);
  body["tool_choice"] = {{"type", "function"}, {"function", {{"name", "h"}}}};
  expect_error(body.dump(), 400, "tool_choice.function.name", "no tool named \"h\"");
  body["tool_choice"] = {{"type", "function"}};
  expect_error(body.dump(), 400, "tool_choice.function", "expected an object");
  body["tool_choice"] = "sometimes";
  expect_error(body.dump(), 400, "tool_choice", "expected \"auto\"");
  expect_error(with("tool_choice", "required").dump(), 400, "tool_choice", "needs tools");
  Json unspellable = with("tools", Json::parse(R"([{"type": "function", "function": {"name": "a>b"}}])"));
  unspellable["tool_choice"] = "required";
  expect_error(unspellable.dump(), 400, "tool_choice", "cannot be spelled");
}

TEST(ChatRequest, ReadsPenaltiesAndLogprobs) {
  Json body = with("presence_penalty", 0.5);
  body["frequency_penalty"] = -1.25;
  body["logprobs"] = true;
  body["top_logprobs"] = 3;
  const ChatRequest r = parse(body);
  EXPECT_EQ(r.turn.penalties.presence, 0.5);
  EXPECT_EQ(r.turn.penalties.frequency, -1.25);
  EXPECT_EQ(r.turn.logprobs, 3);
  EXPECT_EQ(parse(with("logprobs", true)).turn.logprobs, 0);
  EXPECT_EQ(parse(with("logprobs", false)).turn.logprobs, -1);
  EXPECT_FALSE(parse(with("presence_penalty", 0)).turn.penalties.active());
}

TEST(ChatRequest, BadBodiesNameWhatIsWrong) {
  expect_error("{\"messages\": [", 400, "", "not valid JSON");
  expect_error("[1, 2]", 400, "", "expected a JSON object");
  expect_error("{\"messages\": [{\"role\": \"user\", \"content\": \"\xff\xfe\"}]}", 400, "",
               "not valid UTF-8");
  expect_error(with("frobnicate", 1).dump(), 400, "frobnicate",
               "Unrecognized request argument supplied: frobnicate");
  expect_error(Json{{"messages", "hi"}}.dump(), 400, "messages", "messages");
  expect_error(Json{{"model", "x"}}.dump(), 400, "messages", "messages: missing");
  expect_error(with("temperature", "hot").dump(), 400, "temperature", "expected a number");
  expect_error(with("temperature", 3).dump(), 400, "temperature", "[0, 2]");
  expect_error(with("max_tokens", 0).dump(), 400, "max_tokens", ">= 1");
  expect_error(with("max_tokens", 1.5).dump(), 400, "max_tokens", "expected an integer");
  expect_error(with("stream", "yes").dump(), 400, "stream", "true or false");
  expect_error(with("stream_options", {{"include_usage", true}}).dump(), 400, "stream_options",
               "stream is true");
  expect_error(with("stop", 5).dump(), 400, "stop", "expected a string");
  expect_error(with("stop", Json::array({"a", 1})).dump(), 400, "stop[1]", "expected a string");
  expect_error(Json{{"messages", Json::array()}}.dump(), 400, "messages", "at least one message");
  expect_error(with("n", 129).dump(), 400, "n", "[1, 128]");
  expect_error(with("n", 0).dump(), 400, "n", "[1, 128]");
  expect_error(with("n", "two").dump(), 400, "n", "expected an integer");
  expect_error(with("presence_penalty", 3).dump(), 400, "presence_penalty", "[-2, 2]");
  expect_error(with("frequency_penalty", "lots").dump(), 400, "frequency_penalty", "expected a number");
  expect_error(with("logprobs", 1).dump(), 400, "logprobs", "true or false");
  expect_error(with("top_logprobs", 2).dump(), 400, "top_logprobs", "requires logprobs");
  Json too_many = with("logprobs", true);
  too_many["top_logprobs"] = 21;
  expect_error(too_many.dump(), 400, "top_logprobs", "[0, 20]");
  too_many["top_logprobs"] = 1.5;
  expect_error(too_many.dump(), 400, "top_logprobs", "expected an integer");
  expect_error(with("model", 5).dump(), 400, "model", "expected a string");
  const Json bad_role = Json::parse(R"({"messages": [{"role": "wizard", "content": "hi"}]})");
  expect_error(bad_role.dump(), 400, "messages[0].role", "wizard");
}

}  // namespace
}  // namespace baleen::server
