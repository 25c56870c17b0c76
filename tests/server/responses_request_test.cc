#include "server/responses_request.h"

#include <gtest/gtest.h>

#include "server/api_error.h"

namespace baleen::server {
namespace {

using chat::Json;
using chat::Role;

std::optional<chat::Conversation> none(const std::string&) {
  return std::nullopt;
}

ResponsesRequest parse(const Json& b, const PreviousLookup& previous = none) {
  return parse_responses_request(b.dump(), session::TurnOptions{}, previous);
}

void expect_error(const Json& b, int status, std::string_view param, std::string_view mention) {
  try {
    parse(b);
    ADD_FAILURE() << "accepted: " << b.dump();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), status) << e.what();
    EXPECT_EQ(e.body()["error"]["param"], param.empty() ? Json() : Json(param)) << e.what();
    EXPECT_NE(std::string(e.what()).find(mention), std::string::npos) << e.what() << " lacks " << mention;
  }
}

TEST(ResponsesRequest, ReadsCodexItemsAndTools) {
  const Json b = {
      {"instructions", "Base."},
      {"input",
       {{{"type", "message"}, {"role", "developer"}, {"content", {{{"type", "input_text"}, {"text", "Rules."}}}}},
        {{"role", "user"}, {"content", "Count."}},
        {{"type", "reasoning"}, {"id", "rs_1"}, {"summary", Json::array()},
         {"content", {{{"type", "reasoning_text"}, {"text", "use wc"}}}}},
        {{"type", "function_call"}, {"call_id", "c1"}, {"name", "run"}, {"arguments", "{\"command\": \"wc\"}"}},
        {{"type", "custom_tool_call"}, {"call_id", "c2"}, {"name", "apply_patch"}, {"input", "*** Begin"}},
        {{"type", "function_call_output"}, {"call_id", "c1"}, {"output", "3"}},
        {{"type", "custom_tool_call_output"}, {"call_id", "c2"}, {"output", {{{"type", "input_text"}, {"text", "ok"}}}}},
        {{"type", "web_search_call"}, {"id", "ws_1"}},
        {{"role", "developer"}, {"content", "Later rule."}}}},
      {"tools",
       {{{"type", "function"}, {"name", "run"}, {"parameters", {{"type", "object"}}}},
        {{"type", "custom"}, {"name", "apply_patch"}},
        {{"type", "namespace"}, {"name", "agents"}, {"tools", {{{"type", "function"}, {"name", "spawn"}}}}},
        {{"type", "web_search"}}}},
      {"reasoning", {{"effort", "xhigh"}, {"summary", "auto"}}},
      {"max_output_tokens", 40},
      {"store", false},
      {"client_metadata", {{"session_id", "s"}}}};
  const ResponsesRequest r = parse(b);
  const auto& m = r.conversation.messages;
  ASSERT_EQ(m.size(), 6u);
  EXPECT_EQ(m[0].role, Role::kSystem);
  EXPECT_EQ(m[0].content, "Base.\n\nRules.");
  EXPECT_EQ(m[2].reasoning_content, "use wc");
  ASSERT_EQ(m[2].tool_calls.size(), 2u);
  EXPECT_EQ(m[2].tool_calls[1].arguments, (Json{{"input", "*** Begin"}}));
  EXPECT_EQ(r.item_ids[2], "rs_1");
  EXPECT_EQ(m[4].content, "ok");
  EXPECT_EQ(m[5].role, Role::kUser) << "a later developer message is a turn where it stands";
  EXPECT_EQ(r.history.messages.size(), 6u);
  EXPECT_EQ(r.turn.tools.size(), 3u);
  EXPECT_EQ(r.turn.tools[2]["name"], "agents.spawn");
  EXPECT_TRUE(r.custom_tools.contains("apply_patch"));
  EXPECT_EQ(r.namespaced.at("agents.spawn").second, "spawn");
  EXPECT_TRUE(r.turn.render.thinking);
  EXPECT_EQ(r.turn.render.effort.level, "max");
  EXPECT_EQ(r.turn.max_tokens, 40);
  EXPECT_FALSE(r.store);
  EXPECT_TRUE(r.turn.forced_tools.is_null());

  Json forced = b;
  forced["tool_choice"] = "required";
  EXPECT_EQ(parse(forced).turn.forced_tools, r.turn.tools);
  forced["tool_choice"] = {{"type", "custom"}, {"name", "apply_patch"}};
  forced["parallel_tool_calls"] = false;
  const ResponsesRequest named = parse(forced);
  ASSERT_EQ(named.turn.forced_tools.size(), 1u);
  EXPECT_EQ(named.turn.forced_tools[0]["name"], "apply_patch");
  EXPECT_FALSE(named.turn.parallel_tool_calls);
}

TEST(ResponsesRequest, ContinuesAStoredConversation) {
  chat::Conversation stored;
  stored.messages.push_back(session::text_message(Role::kUser, "Count."));
  chat::Message call = session::text_message(Role::kAssistant, "");
  call.tool_calls.push_back({"c1", "run", {{"command", "wc"}}});
  stored.messages.push_back(call);
  const auto lookup = [&](const std::string& id) -> std::optional<chat::Conversation> {
    return id == "resp_1" ? std::optional(stored) : std::nullopt;
  };
  const Json b = {{"previous_response_id", "resp_1"},
                  {"instructions", "Base."},
                  {"input", {{{"type", "function_call_output"}, {"call_id", "c1"}, {"output", "3"}}}}};
  const ResponsesRequest r = parse(b, lookup);
  ASSERT_EQ(r.conversation.messages.size(), 4u);
  EXPECT_EQ(r.conversation.messages[0].content, "Base.");
  EXPECT_EQ(r.history.messages.size(), 3u);
  try {
    parse({{"previous_response_id", "resp_2"}, {"input", "hi"}}, lookup);
    ADD_FAILURE() << "an unknown previous_response_id was accepted";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 404);
  }
}

TEST(ResponsesRequest, BadBodiesNameWhatIsWrong) {
  expect_error({{"input", "hi"}, {"frobnicate", 1}}, 400, "frobnicate", "frobnicate");
  expect_error({{"model", "x"}}, 400, "input", "input: missing");
  expect_error({{"input", Json::array()}}, 400, "input", "at least one item");
  expect_error({{"input", {{{"type", "function_call_output"}, {"call_id", "nope"}, {"output", "x"}}}}}, 400,
               "input[0].call_id", "nope");
  expect_error({{"input", {{{"role", "user"}, {"content", {{{"type", "input_image"}, {"image_url", "x"}}}}}}}}, 400,
               "input[0].content[0].type", "image");
  expect_error({{"input", {{{"type", "item_reference"}, {"id", "x"}}}}}, 400, "input[0].type", "item_reference");
  expect_error({{"input", "hi"}, {"reasoning", {{"effort", "extreme"}}}}, 400, "reasoning.effort", "extreme");
  expect_error({{"input", "hi"}, {"max_output_tokens", 0}}, 400, "max_output_tokens", ">= 1");
  expect_error({{"input", "hi"}, {"background", true}}, 400, "background", "not supported");
  expect_error({{"input", "hi"}, {"tool_choice", {{"type", "function"}, {"name", "ghost"}}}}, 400, "tool_choice.name",
               "ghost");
  expect_error({{"input", "hi"}, {"tool_choice", "required"}}, 400, "tool_choice", "needs tools");
}

}  // namespace
}  // namespace baleen::server
