// The forced-tool-call grammar: what the encoder renders is accepted byte by byte, and every way out of a
// valid call (another tool, an unknown or repeated parameter, bad JSON, content before the call, a second
// call when parallel calls are off) is refused at the byte where it goes wrong. Accepted outputs parse with
// the output parser into the calls they spell.
#include "chat/tool_call_grammar.h"

#include <gtest/gtest.h>

#include "chat/encoder.h"
#include "chat/output_parser.h"
#include "core/error.h"

namespace baleen::chat {
namespace {

const Json kFunctions = Json::parse(R"([
  {"name": "read", "parameters": {"type": "object",
     "properties": {"path": {"type": "string"}, "limit": {"type": "integer"}}, "required": ["path"]}},
  {"name": "read_file", "parameters": {"type": "object",
     "properties": {"path": {"type": "string"}, "opts": {}}}},
  {"name": "noargs", "parameters": {"type": "object", "properties": {}}}
])");

ToolCallGrammar grammar(bool parallel = true, bool reasoning = false, const Json& functions = kFunctions) {
  return ToolCallGrammar(dsml_tags(Dialect::kV4), functions, parallel, reasoning);
}

// How many leading bytes of `text` the grammar accepts; text.size() when all.
size_t accepted(const ToolCallGrammar& g, std::string_view text) {
  ToolCallGrammar::State s = g.start();
  for (size_t i = 0; i < text.size(); ++i)
    if (!g.advance(s, text[i])) return i;
  return text.size();
}

bool complete(const ToolCallGrammar& g, std::string_view text) {
  ToolCallGrammar::State s = g.start();
  return g.advance(s, text) && g.complete(s);
}

std::string rendered(const std::vector<ToolCall>& calls) {
  return render_tool_calls(calls, Dialect::kV4);
}

ToolCall call(std::string name, Json arguments) {
  ToolCall c;
  c.name = std::move(name);
  c.arguments = std::move(arguments);
  return c;
}

TEST(ToolCallGrammar, AcceptsWhatTheEncoderRenders) {
  const auto g = grammar();
  for (const std::string& text :
       {rendered({call("read", {{"path", "/tmp/a b\n\"q\" <x>"}, {"limit", 10}})}),
        rendered({call("read_file", {{"path", "x"}, {"opts", {{"deep", {1, 2.5e-3, nullptr, true}}}}})}),
        rendered({call("noargs", Json::object())}),
        rendered({call("read", {{"path", "a"}}), call("noargs", Json::object())})}) {
    EXPECT_TRUE(complete(g, text)) << text << "\naccepted up to " << accepted(g, text);
    const ParsedOutput parsed = parse_output(text + "<｜end▁of▁sentence｜>", {.tools = kFunctions});
    EXPECT_TRUE(parsed.errors.empty()) << text;
    EXPECT_TRUE(parsed.content.empty()) << text;
    EXPECT_FALSE(parsed.tool_calls.empty()) << text;
  }
}

TEST(ToolCallGrammar, TheLeadingBlankLineIsOptionalButNoContentIsAllowed) {
  const auto g = grammar();
  const std::string text = rendered({call("read", {{"path", "a"}})});
  EXPECT_TRUE(complete(g, text.substr(2)));
  EXPECT_EQ(accepted(g, "Sure, " + text), 0u);
  EXPECT_EQ(accepted(g, "\n" + text), 2u);  // "\n\n<" is allowed, "\n\n\n" is not
  EXPECT_EQ(accepted(g, "\n\n\n"), 2u);
}

TEST(ToolCallGrammar, ToolNamesThatArePrefixesOfOthers) {
  const auto g = grammar();
  const std::string head = "<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"";
  EXPECT_EQ(accepted(g, head + "read\">\n"), head.size() + 7);
  EXPECT_EQ(accepted(g, head + "read_file\">\n"), head.size() + 12);
  EXPECT_EQ(accepted(g, head + "read_\">"), head.size() + 5);  // "read_" is no tool
  EXPECT_EQ(accepted(g, head + "reads"), head.size() + 4);
  EXPECT_EQ(accepted(g, head + "write"), head.size());
}

TEST(ToolCallGrammar, ParametersAreTheToolsOwnOnceEachAndTypedByTheSchema) {
  const auto g = grammar();
  const std::string head = "<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"read\">\n<｜DSML｜parameter name=\"";
  EXPECT_EQ(accepted(g, head + "opts"), head.size());  // read_file's, not read's
  // path is typed "string": only string="true".
  EXPECT_EQ(accepted(g, head + "path\" string=\"false"), head.size() + 14);
  // limit is an integer: only string="false", and a JSON integer.
  EXPECT_EQ(accepted(g, head + "limit\" string=\"t"), head.size() + 15);
  const std::string limit = head + "limit\" string=\"false\">";
  const std::string twelve = limit + "12</｜DSML｜parameter>";
  EXPECT_EQ(accepted(g, twelve), twelve.size());
  EXPECT_EQ(accepted(g, limit + "\"12\""), limit.size());
  EXPECT_EQ(accepted(g, limit + "1.5"), limit.size() + 1);
  EXPECT_EQ(accepted(g, limit + "-0x"), limit.size() + 2);
  // A repeated parameter.
  const std::string once = head + "path\" string=\"true\">a</｜DSML｜parameter>\n<｜DSML｜parameter name=\"";
  EXPECT_EQ(accepted(g, once + "path"), once.size());
  EXPECT_EQ(accepted(g, once + "limit\""), once.size() + 6);
}

TEST(ToolCallGrammar, RequiredParametersComeBeforeTheInvokeCloses) {
  const auto g = grammar();
  const std::string head = "<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"read\">\n";
  EXPECT_EQ(accepted(g, head + "</｜DSML｜invoke>"), head.size() + 1);  // "<" could still open a parameter
  const std::string body = head + "<｜DSML｜parameter name=\"path\" string=\"true\">a</｜DSML｜parameter>";
  EXPECT_EQ(accepted(g, body + "\n</｜DSML｜invoke>\n"), body.size() + std::string("\n</｜DSML｜invoke>\n").size());
}

TEST(ToolCallGrammar, StringValuesAreRawTextUpToTheClosingTag) {
  const auto g = grammar();
  const std::string head =
      "<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"read\">\n<｜DSML｜parameter name=\"path\" string=\"true\">";
  const std::string value = "</｜DSML｜param <｜DSML｜parameter> \"{[ ";  // near misses of the tag
  EXPECT_EQ(accepted(g, head + value), head.size() + value.size());
  // The end of sentence spelled as text would end the turn in the parser: refused at its last byte.
  const std::string eos = "<｜end▁of▁sentence｜>";
  EXPECT_EQ(accepted(g, head + eos), head.size() + eos.size() - 1);
}

TEST(ToolCallGrammar, JsonValuesAreWellFormed) {
  const auto g = grammar();
  const std::string head =
      "<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"read_file\">\n<｜DSML｜parameter name=\"opts\" string=\"false\">";
  const std::string close = "</｜DSML｜parameter>";
  for (const char* good : {"{}", "[]", " {\"a\": [1, -2.5E+3, \"x\\u00e9\\n\", {\"b\": null}]} ", "0", "\"é\"",
                           "true", "false", "null", "-0.0e1", "\"\\ud83d\\ude00\""}) {
    const std::string text = head + good + close;
    EXPECT_EQ(accepted(g, text), text.size()) << good;
  }
  for (const char* bad : {"{a", "[1,]", "01", "tru ", "\"\n\"", "{\"a\" 1}", "[1 2]", "1.", "\"\\x\"", "]",
                          "{\"a\":1]", "-", "", "\"\xC0\x80\"", "\"\xED\xA0\x80\"", "\"</｜DSML｜parameter>\"", "\"\\ud83d\"", "\"\\ude00\"",
                          "\"\\ud83dx\"", "\"\\ud83d\\n\""}) {
    const std::string text = head + bad + close;
    EXPECT_LT(accepted(g, text), text.size()) << bad;
  }
}

TEST(ToolCallGrammar, AfterTheBlockOnlyTheEnd) {
  const auto g = grammar();
  const std::string text = rendered({call("noargs", Json::object())});
  ToolCallGrammar::State s = g.start();
  ASSERT_TRUE(g.advance(s, text));
  EXPECT_TRUE(g.complete(s));
  for (char c : {'\n', ' ', '<', 'a'}) {
    ToolCallGrammar::State t = s;
    EXPECT_FALSE(g.advance(t, c));
  }
}

TEST(ToolCallGrammar, ASecondCallOnlyWhenParallelCallsAreAllowed) {
  const std::string two = rendered({call("noargs", Json::object()), call("read", {{"path", "a"}})});
  EXPECT_TRUE(complete(grammar(true), two));
  const std::string one = rendered({call("noargs", Json::object())});
  const size_t after_first = one.size() - std::string("</｜DSML｜tool_calls>").size();
  EXPECT_EQ(accepted(grammar(false), two), after_first + 1);  // "<" then "｜" (not "/") is refused
  EXPECT_TRUE(complete(grammar(false), one));
}

TEST(ToolCallGrammar, ReasoningFirstWhenThePromptOpenedIt) {
  const auto g = grammar(true, /*reasoning=*/true);
  const std::string call_text = rendered({call("read", {{"path", "a"}})});
  EXPECT_TRUE(complete(g, "Let me think <about> it.</think>" + call_text));
  EXPECT_EQ(accepted(g, "hmm</think>Sure"), 11u);
  // A block opened inside the reasoning (no </think>) is constrained from there on.
  EXPECT_TRUE(complete(g, "hmm" + call_text));
  const std::string opened = "hmm\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"";
  EXPECT_EQ(accepted(g, opened + "write"), opened.size());
  // Nor may a block of the other DSML spelling open there (the parser would read it, unconstrained).
  const std::string spaced = "hmm\n\n<｜DSML｜ calls>";
  EXPECT_EQ(accepted(g, spaced), spaced.size() - 1);
  // The end of sentence cannot end the reasoning.
  EXPECT_EQ(accepted(g, "hmm<｜end▁of▁sentence｜>"), 3 + std::string("<｜end▁of▁sentence｜>").size() - 1);
}

TEST(ToolCallGrammar, SpacedDialect) {
  ToolCallGrammar g(dsml_tags(Dialect::kV41), kFunctions, true, false);
  const std::string text = render_tool_calls({call("read", {{"path", "a"}, {"limit", 3}})}, Dialect::kV41);
  EXPECT_TRUE(complete(g, text)) << accepted(g, text);
  EXPECT_EQ(accepted(g, rendered({call("read", {{"path", "a"}})})), std::string("\n\n<｜DSML｜").size());
}

TEST(ToolCallGrammar, FreeTextStatesSayWhichBytesKeepThem) {
  const auto g = grammar();
  ToolCallGrammar::State s = g.start();
  EXPECT_EQ(g.free_text(s), ToolCallGrammar::FreeText::kNone);
  ASSERT_TRUE(g.advance(
      s, "<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"read\">\n<｜DSML｜parameter name=\"path\" string=\"true\">"));
  EXPECT_EQ(g.free_text(s), ToolCallGrammar::FreeText::kAnyButLt);
  ASSERT_TRUE(g.advance(s, '<'));
  EXPECT_EQ(g.free_text(s), ToolCallGrammar::FreeText::kNone);
}

TEST(ToolCallGrammar, InsideAJsonStringPlainAsciiIsFreeText) {
  const auto g = grammar();
  ToolCallGrammar::State s = g.start();
  ASSERT_TRUE(g.advance(s, "<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"read_file\">\n"
                           "<｜DSML｜parameter name=\"opts\" string=\"false\">{\"m"));
  EXPECT_EQ(g.free_text(s), ToolCallGrammar::FreeText::kJsonStringAscii);
  ASSERT_TRUE(g.advance(s, "\": [\"a"));
  EXPECT_EQ(g.free_text(s), ToolCallGrammar::FreeText::kJsonStringAscii);
}

TEST(ToolCallGrammar, ToolsThatCannotBeSpelledAreErrors) {
  EXPECT_THROW(grammar(true, false, Json::array()), Error);
  EXPECT_THROW(grammar(true, false, Json::parse(R"([{"name": "a\"b"}])")), Error);
  EXPECT_THROW(grammar(true, false, Json::parse(R"([{"name": "a"}, {"name": "a"}])")), Error);
  EXPECT_THROW(grammar(true, false,
                       Json::parse(R"([{"name": "a", "parameters": {"properties": {"x>": {}}}}])")),
               Error);
}

}  // namespace
}  // namespace baleen::chat
