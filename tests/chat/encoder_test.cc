// One test per rule of spec/chat.md "Building a prompt", with expected prompts written out by hand from
// the rule and from DeepSeek's encoder (encoding/encoding_dsv4.py; V4.1 encoding/encoding.py).
#include "chat/encoder.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace baleen::chat {
namespace {

const std::string B = "<｜begin▁of▁sentence｜>";
const std::string E = "<｜end▁of▁sentence｜>";
const std::string U = "<｜User｜>";
const std::string A = "<｜Assistant｜>";
const std::string S = "<｜System｜>";
const std::string T = "<think>";
const std::string TE = "</think>";

Conversation conv(const char* messages) {
  return conversation_from_json(Json::parse(messages));
}

RenderOptions opts(bool thinking, Dialect dialect = Dialect::kV4) {
  RenderOptions o;
  o.thinking = thinking;
  o.dialect = dialect;
  return o;
}

const char* kTwoUserTurns = R"([{"role": "user", "content": "a"},
  {"role": "assistant", "reasoning_content": "r1", "content": "b"}, {"role": "user", "content": "c"}])";

TEST(Encoder, EmptyConversationIsJustBos) {
  EXPECT_EQ(render_prompt(Conversation{}, opts(true)), B);
}

TEST(Encoder, ChatModeEndsUserTurnWithAssistantAndThinkEnd) {
  EXPECT_EQ(render_prompt(conv(R"([{"role": "user", "content": "hi"}])"), opts(false)),
            B + U + "hi" + A + TE);
}

TEST(Encoder, ThinkingModeOpensThinkAfterLastUserTurn) {
  EXPECT_EQ(render_prompt(conv(R"([{"role": "user", "content": "hi"}])"), opts(true)), B + U + "hi" + A + T);
}

TEST(Encoder, SystemContentIsBareAndDeveloperUsesUserToken) {
  EXPECT_EQ(render_prompt(conv(R"([{"role": "system", "content": "s"}, {"role": "developer", "content": "d"},
                                  {"role": "user", "content": "u"}])"),
                          opts(false)),
            B + "s" + U + "d" + U + "u" + A + TE);
}

TEST(Encoder, DeveloperLastGetsTheGenerationSuffix) {
  EXPECT_EQ(render_prompt(conv(R"([{"role": "developer", "content": "d"}])"), opts(true)),
            B + U + "d" + A + T);
}

TEST(Encoder, ChatModeMultiTurnDropsNothingButWritesNoReasoning) {
  EXPECT_EQ(render_prompt(conv(kTwoUserTurns), opts(false)),
            B + U + "a" + A + TE + "b" + E + U + "c" + A + TE);
}

TEST(Encoder, ThinkingWithoutToolsDropsEarlierReasoning) {
  EXPECT_EQ(render_prompt(conv(kTwoUserTurns), opts(true)), B + U + "a" + A + TE + "b" + E + U + "c" + A + T);
}

TEST(Encoder, DropThinkingOffKeepsEarlierReasoning) {
  RenderOptions o = opts(true);
  o.drop_thinking = false;
  EXPECT_EQ(render_prompt(conv(kTwoUserTurns), o),
            B + U + "a" + A + T + "r1" + TE + "b" + E + U + "c" + A + T);
}

TEST(Encoder, ToolsForceInterleavedThinkingSoEarlierReasoningStays) {
  Conversation c = conv(kTwoUserTurns);
  attach_request_tools(c, Json::parse(R"([{"name": "f"}])"), Json());
  const std::string p = render_prompt(c, opts(true));
  const std::string tail = U + "a" + A + T + "r1" + TE + "b" + E + U + "c" + A + T;
  ASSERT_GE(p.size(), tail.size());
  EXPECT_EQ(p.substr(p.size() - tail.size()), tail);
  // The prompt of the next round extends this one (prefix caching hits fully).
  Conversation next = c;
  Message reply;
  reply.role = Role::kAssistant;
  reply.reasoning_content = "r2";
  reply.content = "d";
  next.messages.push_back(reply);
  Message user;
  user.content = "e";
  next.messages.push_back(user);
  EXPECT_EQ(render_prompt(next, opts(true)).substr(0, p.size()), p);
}

TEST(Encoder, ThinkingDropsDeveloperMessagesBeforeTheLastUser) {
  const char* m = R"([{"role": "developer", "content": "d"}, {"role": "user", "content": "a"},
    {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}])";
  EXPECT_EQ(render_prompt(conv(m), opts(true)), B + U + "a" + A + TE + "b" + E + U + "c" + A + T);
  EXPECT_EQ(render_prompt(conv(m), opts(false)), B + U + "d" + U + "a" + A + TE + "b" + E + U + "c" + A + TE);
}

TEST(Encoder, AssistantAfterLastUserRendersReasoningThenContent) {
  EXPECT_EQ(render_prompt(conv(R"([{"role": "user", "content": "a"},
                                  {"role": "assistant", "reasoning_content": "r", "content": "c"}])"),
                          opts(true)),
            B + U + "a" + A + T + "r" + TE + "c" + E);
  EXPECT_EQ(render_prompt(conv(R"([{"role": "user", "content": "a"},
                                  {"role": "assistant", "reasoning_content": "r", "content": "c"}])"),
                          opts(false)),
            B + U + "a" + A + TE + "c" + E);
}

const char* kToolRound = R"([{"role": "user", "content": "q"},
  {"role": "assistant", "content": "", "tool_calls": [
    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"x\": 1}"}},
    {"id": "c2", "type": "function", "function": {"name": "g", "arguments": "{}"}}]},
  {"role": "tool", "tool_call_id": "c2", "content": "r2"},
  {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "r1a"}, {"type": "text", "text": "r1b"}]},
  {"role": "user", "content": "next"}])";

TEST(Encoder, ToolResultsFoldIntoOneUserTurnInCallOrder) {
  const std::string calls =
      "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n"
      "<｜DSML｜parameter name=\"x\" string=\"false\">1</｜DSML｜parameter>\n</｜DSML｜invoke>\n"
      "<｜DSML｜invoke name=\"g\">\n\n</｜DSML｜invoke>\n</｜DSML｜tool_calls>";
  EXPECT_EQ(render_prompt(conv(kToolRound), opts(false)),
            B + U + "q" + A + TE + calls + E + U +
                "<tool_result>r1a\n\nr1b</tool_result>\n\n<tool_result>r2</tool_result>" + "\n\nnext" + A +
                TE);
}

TEST(Encoder, ConsecutiveUserMessagesJoinOneTurn) {
  EXPECT_EQ(render_prompt(conv(R"([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])"),
                          opts(false)),
            B + U + "a\n\nb" + A + TE);
}

TEST(Encoder, ToolCallParametersAreRawStringsOrPythonJson) {
  ToolCall call{"id", "run", Json::parse(R"({"cmd": "echo \"hi\"\n  <b>", "n": 1.0, "big": 1e16, "ok": false,
                                            "nil": null, "obj": {"k": ["東京", 2]}})")};
  EXPECT_EQ(render_tool_calls({call}, Dialect::kV4),
            "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"run\">\n"
            "<｜DSML｜parameter name=\"cmd\" string=\"true\">echo \"hi\"\n  <b></｜DSML｜parameter>\n"
            "<｜DSML｜parameter name=\"n\" string=\"false\">1.0</｜DSML｜parameter>\n"
            "<｜DSML｜parameter name=\"big\" string=\"false\">1e+16</｜DSML｜parameter>\n"
            "<｜DSML｜parameter name=\"ok\" string=\"false\">false</｜DSML｜parameter>\n"
            "<｜DSML｜parameter name=\"nil\" string=\"false\">null</｜DSML｜parameter>\n"
            "<｜DSML｜parameter name=\"obj\" string=\"false\">{\"k\": [\"東京\", 2]}</｜DSML｜parameter>\n"
            "</｜DSML｜invoke>\n</｜DSML｜tool_calls>");
}

TEST(Encoder, V41UsesSpacedDsmlTags) {
  ToolCall call{"id", "f", Json::parse(R"({"a": "x"})")};
  EXPECT_EQ(render_tool_calls({call}, Dialect::kV41),
            "\n\n<｜DSML｜ calls>\n<｜DSML｜ invoke name=\"f\">\n"
            "<｜DSML｜ parameter name=\"a\" string=\"true\">x</｜DSML｜ parameter>\n</｜DSML｜ "
            "invoke>\n</｜DSML｜ calls>");
}

TEST(Encoder, ArgumentsThatAreNotJsonBecomeOneArgumentsParameterInV4Only) {
  ToolCall call{"id", "f", Json("raw text")};
  EXPECT_EQ(render_tool_calls({call}, Dialect::kV4),
            "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n"
            "<｜DSML｜parameter name=\"arguments\" string=\"true\">raw text</｜DSML｜parameter>\n"
            "</｜DSML｜invoke>\n</｜DSML｜tool_calls>");
  EXPECT_THROW(render_tool_calls({call}, Dialect::kV41), Error);
}

TEST(Encoder, ToolsAttachToLeadingSystemMessage) {
  Conversation c = conv(R"([{"role": "system", "content": "sys"}, {"role": "user", "content": "u"}])");
  attach_request_tools(c, Json::parse(R"([{"name": "f"}])"), Json());
  const std::string p = render_prompt(c, opts(false));
  EXPECT_EQ(p.substr(0, B.size() + 3 + 2 + 8), B + "sys\n\n## Tools");
  EXPECT_NE(
      p.find("### Available Tool Schemas\n\n{\"name\": \"f\"}\n\nYou MUST strictly follow the above defined "
             "tool name and parameter schemas to invoke tool calls.\n" +
             U + "u" + A + TE),
      std::string::npos);
}

TEST(Encoder, ToolsWithoutSystemMessageGetAnEmptyOnePutFirst) {
  Conversation c = conv(R"([{"role": "user", "content": "u"}])");
  attach_request_tools(c, Json::parse(R"([{"name": "f"}])"), Json());
  ASSERT_EQ(c.messages.size(), 2u);
  EXPECT_EQ(c.messages[0].role, Role::kSystem);
  EXPECT_EQ(render_prompt(c, opts(false)).substr(0, B.size() + 10), B + "\n\n## Tools");
}

TEST(Encoder, DeveloperCarriesToolsAfterItsContent) {
  Conversation c = conv(R"([{"role": "developer", "content": "dev"}])");
  attach_request_tools(c, Json::parse(R"([{"name": "f"}])"), Json());
  const std::string p = render_prompt(c, opts(true));
  EXPECT_EQ(p.substr(0, B.size() + U.size() + 13), B + U + "dev\n\n## Tools");
  EXPECT_EQ(p.substr(p.size() - A.size() - T.size()), A + T);
}

TEST(Encoder, ResponseFormatBlockFollowsTheTools) {
  Conversation c = conv(R"([{"role": "system", "content": "s"}, {"role": "user", "content": "u"}])");
  attach_request_tools(c, Json(), Json::parse(R"({"type": "json_schema", "schema": {"a": 1}})"));
  EXPECT_EQ(render_prompt(c, opts(false)),
            B +
                "s\n\n## Response Format:\n\nYou MUST strictly adhere to the following schema to reply:\n"
                "{\"type\": \"json_schema\", \"schema\": {\"a\": 1}}" +
                U + "u" + A + TE);
}

const std::string kAbsolute =
    "Reasoning Effort: Absolute maximum with no shortcuts permitted.\nYou MUST be very thorough in your "
    "thinking and "
    "comprehensively decompose the problem to resolve the root cause, rigorously stress-testing your logic "
    "against "
    "all potential paths, edge cases, and adversarial scenarios.\nExplicitly write out your entire "
    "deliberation "
    "process, documenting every intermediate step, considered alternative, and rejected hypothesis to ensure "
    "absolutely no assumption is left unchecked.\n\n";
const std::string kBeyond =
    "Reasoning Effort: Beyond maximum — exhaustive, relentless, and uncompromising.\nYou MUST reason with "
    "the "
    "utmost depth and rigor, leaving absolutely nothing to chance: exhaustively decompose the problem into "
    "its most "
    "fundamental components, trace every causal chain to its root, and resolve the underlying cause rather "
    "than any "
    "surface symptom.\nDo not stop reasoning until you have independently verified the solution from "
    "multiple "
    "angles and are certain that no assumption remains unchecked and no error remains undiscovered.\n\n";

std::string with_effort(Dialect dialect, bool thinking, std::string level, int budget = 0) {
  RenderOptions o = opts(thinking, dialect);
  o.effort = ReasoningEffort{std::move(level), budget};
  return render_prompt(conv(R"([{"role": "user", "content": "u"}])"), o);
}

TEST(Encoder, V4EffortRendersOnlyMaxInThinkingMode) {
  EXPECT_EQ(with_effort(Dialect::kV4, true, "max"), B + kAbsolute + U + "u" + A + T);
  EXPECT_EQ(with_effort(Dialect::kV4, true, "high"), B + U + "u" + A + T);
  EXPECT_EQ(with_effort(Dialect::kV4, true, ""), B + U + "u" + A + T);
  EXPECT_EQ(with_effort(Dialect::kV4, false, "max"), B + U + "u" + A + TE);
  EXPECT_THROW(with_effort(Dialect::kV4, true, "xhigh"), Error);
}

TEST(Encoder, V40731EffortHasHighAndBeyondMaximum) {
  EXPECT_EQ(with_effort(Dialect::kV4_0731, true, "low"), B + U + "u" + A + T);
  EXPECT_EQ(with_effort(Dialect::kV4_0731, true, ""), B + U + "u" + A + T);
  EXPECT_EQ(with_effort(Dialect::kV4_0731, true, "high"), B + kAbsolute + U + "u" + A + T);
  EXPECT_EQ(with_effort(Dialect::kV4_0731, true, "max"), B + kBeyond + U + "u" + A + T);
  EXPECT_EQ(with_effort(Dialect::kV4_0731, false, "max"), B + U + "u" + A + TE);
}

TEST(Encoder, V41EffortIsANumericBudgetBehindTheSystemToken) {
  const auto effort = [](int n) {
    return S + "Reasoning Effort: " + std::to_string(n) +
           " (range 1-100, the higher the value, the more thorough the reasoning)\n\n";
  };
  EXPECT_EQ(with_effort(Dialect::kV41, true, ""), B + effort(50) + U + "u" + A + T);
  EXPECT_EQ(with_effort(Dialect::kV41, true, "low"), B + effort(25) + U + "u" + A + T);
  EXPECT_EQ(with_effort(Dialect::kV41, true, "xhigh"), B + effort(75) + U + "u" + A + T);
  EXPECT_EQ(with_effort(Dialect::kV41, true, "max"), B + effort(100) + U + "u" + A + T);
  EXPECT_EQ(with_effort(Dialect::kV41, true, "", 7), B + effort(7) + U + "u" + A + T);
  EXPECT_EQ(with_effort(Dialect::kV41, false, "max"), B + U + "u" + A + TE);
  EXPECT_THROW(with_effort(Dialect::kV41, false, "extreme"), Error);  // validated even in chat mode
}

TEST(Encoder, EffortTextPrecedesTheFirstSystemMessage) {
  RenderOptions o = opts(true, Dialect::kV4);
  o.effort.level = "max";
  EXPECT_EQ(
      render_prompt(conv(R"([{"role": "system", "content": "s"}, {"role": "user", "content": "u"}])"), o),
      B + kAbsolute + "s" + U + "u" + A + T);
  o.dialect = Dialect::kV41;
  EXPECT_EQ(
      render_prompt(conv(R"([{"role": "system", "content": "s"}, {"role": "user", "content": "u"}])"), o),
      B + S +
          "Reasoning Effort: 100 (range 1-100, the higher the value, the more thorough the reasoning)\n\n" +
          "s" + U + "u" + A + T);
}

TEST(Encoder, V41SystemAfterTheFirstMessageActsAsAUserTurn) {
  const char* m = R"([{"role": "system", "content": "s"}, {"role": "user", "content": "u"},
    {"role": "assistant", "content": "a"}, {"role": "system", "content": "s2"}])";
  EXPECT_EQ(render_prompt(conv(m), opts(false, Dialect::kV41)),
            B + S + "s" + U + "u" + A + TE + "a" + E + S + "s2" + A + TE);
  // v4 knows no such rule: a trailing system message gets no generation suffix.
  EXPECT_EQ(render_prompt(conv(m), opts(false, Dialect::kV4)), B + "s" + U + "u" + A + TE + "a" + E + "s2");
}

TEST(Encoder, ThinkingAssistantTurnWithToolCallsKeepsReasoningAcrossToolRounds) {
  Conversation c = conv(kToolRound);
  attach_request_tools(c, Json::parse(R"([{"name": "f"}, {"name": "g"}])"), Json());
  const std::string p = render_prompt(c, opts(true));
  EXPECT_NE(p.find(U + "q" + A + T + TE + "\n\n<｜DSML｜tool_calls>"), std::string::npos);
  EXPECT_TRUE(p.ends_with("\n\nnext" + A + T));
}

}  // namespace
}  // namespace baleen::chat
