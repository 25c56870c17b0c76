// The streaming parser against spec/chat.md "Parsing output"; every case runs under every chunking
// (chunked_parse.h). The FailureClassN tests are the nine failure classes serving stacks have shipped.
#include "chat/output_parser.h"

#include <gtest/gtest.h>

#include <set>

#include "chunked_parse.h"

namespace baleen::chat {
namespace {

using testing::parse_every_way;

const std::string EOS = "<｜end▁of▁sentence｜>";

std::string param(const std::string& name, bool is_string, const std::string& value) {
  return "<｜DSML｜parameter name=\"" + name + "\" string=\"" + (is_string ? "true" : "false") + "\">" +
         value + "</｜DSML｜parameter>";
}
std::string invoke(const std::string& name, const std::vector<std::string>& params) {
  std::string out = "<｜DSML｜invoke name=\"" + name + "\">\n";
  for (size_t i = 0; i < params.size(); ++i) out += (i ? "\n" : "") + params[i];
  return out + "\n</｜DSML｜invoke>";
}
std::string block(const std::vector<std::string>& invokes) {
  std::string out = "\n\n<｜DSML｜tool_calls>\n";
  for (size_t i = 0; i < invokes.size(); ++i) out += (i ? "\n" : "") + invokes[i];
  return out + "\n</｜DSML｜tool_calls>";
}

ParserOptions thinking_options(const char* tools = nullptr) {
  ParserOptions o;
  o.starts_in_reasoning = true;
  if (tools != nullptr) o.tools = Json::parse(tools);
  return o;
}

const char* kTools = R"([
  {"type": "function", "function": {"name": "bash", "parameters": {"type": "object", "properties": {
     "command": {"type": "string"}, "timeout": {"type": "integer"}, "ratio": {"type": "number"},
     "verbose": {"type": "boolean"}, "env": {"type": "object"}, "args": {"type": "array"}}}}},
  {"type": "function", "function": {"name": "wrap", "parameters": {"type": "object", "properties": {
     "arguments": {"type": "string"}}}}},
  {"type": "function", "function": {"name": "plain", "parameters": {"type": "object", "properties": {
     "path": {"type": "string"}, "n": {"type": "integer"}}}}}])";

TEST(OutputParser, SplitsReasoningContentAndEos) {
  const ParsedOutput r = parse_every_way("let me think</think>The answer is 4." + EOS, thinking_options());
  EXPECT_EQ(r.reasoning, "let me think");
  EXPECT_EQ(r.content, "The answer is 4.");
  EXPECT_TRUE(r.tool_calls.empty());
  EXPECT_TRUE(r.errors.empty());
}

TEST(OutputParser, ChatModeOutputIsAllContent) {
  const ParsedOutput r = parse_every_way("plain </think> text", ParserOptions{});
  EXPECT_EQ(r.reasoning, "");
  EXPECT_EQ(r.content, "plain </think> text");
}

TEST(OutputParser, EmptyOutputGivesNothing) {
  const ParsedOutput r = parse_every_way("", thinking_options());
  EXPECT_EQ(r, ParsedOutput{});
}

TEST(OutputParser, ContentThenToolCallBlock) {
  const std::string text =
      "r</think>Running it." + block({invoke("bash", {param("command", true, "ls")})}) + EOS;
  const ParsedOutput r = parse_every_way(text, thinking_options(kTools));
  EXPECT_EQ(r.content, "Running it.");
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].name, "bash");
  EXPECT_EQ(r.tool_calls[0].arguments, Json::parse(R"({"command": "ls"})"));
  EXPECT_TRUE(r.errors.empty());
}

TEST(OutputParser, V41SpacedDialectParses) {
  const std::string text =
      "r</think>\n\n<｜DSML｜ calls>\n<｜DSML｜ invoke name=\"plain\">\n"
      "<｜DSML｜ parameter name=\"n\" string=\"false\">3</｜DSML｜ parameter>\n"
      "</｜DSML｜ invoke>\n</｜DSML｜ calls>" +
      EOS;
  const ParsedOutput r = parse_every_way(text, thinking_options(kTools));
  EXPECT_EQ(r.content, "");
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].arguments, Json::parse(R"({"n": 3})"));
}

TEST(OutputParser, FailureClass1_MarkersSplitAcrossChunksAreChunkInvariant) {
  // parse_every_way cuts inside "</think>", "<｜DSML｜tool_calls>", "<｜DSML｜invoke", every closing tag and
  // the multi-byte "｜", one byte at a time and in multi-token chunks (speculative decoding).
  const std::string text =
      "a<b</thin k</think>c\n\n\n" +
      block({invoke("bash", {param("command", true, "x</｜DSML｜param"), param("timeout", false, "5")}),
             invoke("plain", {param("path", true, "/p")})}) +
      EOS;
  const ParsedOutput r = parse_every_way(text, thinking_options(kTools));
  EXPECT_EQ(r.reasoning, "a<b</thin k");
  EXPECT_EQ(r.content, "c\n\n\n");  // one exact "\n\n" of the five newlines belongs to the block
  ASSERT_EQ(r.tool_calls.size(), 2u);
  EXPECT_EQ(r.tool_calls[0].arguments, Json::parse(R"({"command": "x</｜DSML｜param", "timeout": 5})"));
  EXPECT_EQ(r.tool_calls[1].arguments, Json::parse(R"({"path": "/p"})"));
  EXPECT_TRUE(r.errors.empty());
}

TEST(OutputParser, FailureClass2_DsmlBlockInsideReasoningEndsReasoningAndIsACall) {
  const std::string text =
      "I will list files." + block({invoke("bash", {param("command", true, "ls")})}) + EOS;
  const ParsedOutput r = parse_every_way(text, thinking_options(kTools));
  EXPECT_EQ(r.reasoning, "I will list files.");
  EXPECT_EQ(r.content, "");
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].arguments["command"], "ls");
}

TEST(OutputParser, FailureClass3_UnclosedDsmlAtEndReturnsRawTextWithAnError) {
  const std::string cut = "<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"bash\">\n" +
                          param("command", true, "ls") +
                          "\n<｜DSML｜parameter name=\"timeout\" string=\"false\">1";
  const ParsedOutput r = parse_every_way("r</think>ok\n\n" + cut, thinking_options(kTools));
  EXPECT_EQ(r.content, "ok");
  EXPECT_TRUE(r.tool_calls.empty());  // no half call
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].raw, cut);
  // Cut by the end of sentence instead of max_tokens: same.
  const ParsedOutput e = parse_every_way("r</think>ok\n\n" + cut + EOS, thinking_options(kTools));
  ASSERT_EQ(e.errors.size(), 1u);
  EXPECT_EQ(e.errors[0].raw, cut);
  EXPECT_TRUE(e.tool_calls.empty());
}

TEST(OutputParser, FailureClass3_MalformedInvokeIsReportedWithItsRawText) {
  const std::string bad =
      "<｜DSML｜invoke nme=\"bash\">\n" + param("command", true, "ls") + "\n</｜DSML｜invoke>";
  const ParsedOutput r =
      parse_every_way("\n\n<｜DSML｜tool_calls>\n" + bad + "\n</｜DSML｜tool_calls>" + EOS, ParserOptions{});
  EXPECT_TRUE(r.tool_calls.empty());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].raw, bad);
}

TEST(OutputParser, FailureClass4_AnErrorInOneCallKeepsTheCallsBeforeAndAfter) {
  const std::string bad =
      "<｜DSML｜invoke name=\"bash\">\n<｜DSML｜parameter name=\"command\" string=\"maybe\">x"
      "</｜DSML｜parameter>\n</｜DSML｜invoke>";
  const std::string text = block({invoke("plain", {param("path", true, "/a")}), bad,
                                  invoke("plain", {param("path", true, "/b")})}) +
                           EOS;
  const ParsedOutput r = parse_every_way(text, ParserOptions{});
  ASSERT_EQ(r.tool_calls.size(), 2u);
  EXPECT_EQ(r.tool_calls[0].arguments["path"], "/a");
  EXPECT_EQ(r.tool_calls[1].arguments["path"], "/b");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].raw, bad);
}

TEST(OutputParser, FailureClass4_StrayTextAndDuplicateParametersAreErrorsNotLosses) {
  const std::string dup = invoke("plain", {param("path", true, "/a"), param("path", true, "/b")});
  const std::string text = block({"junk", dup, invoke("plain", {param("path", true, "/c")})}) + EOS;
  const ParsedOutput r = parse_every_way(text, ParserOptions{});
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].arguments["path"], "/c");
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_EQ(r.errors[0].raw, "\njunk\n");
  EXPECT_EQ(r.errors[1].raw, dup);
}

TEST(OutputParser, FailureClass5_TrimsExactSuffixesNeverCharacterSets) {
  // A character-set rstrip("</think>") would eat the trailing "k", "n", "i", "h", "t", "/" of these texts.
  const std::string text = "check /tmp/think</think>run find /tmp" +
                           block({invoke("bash", {param("command", true, "find /tmp -name think")})}) + EOS;
  const ParsedOutput r = parse_every_way(text, thinking_options(kTools));
  EXPECT_EQ(r.reasoning, "check /tmp/think");
  EXPECT_EQ(r.content, "run find /tmp");
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].arguments["command"], "find /tmp -name think");
  // Only one exact "\n\n" before the block belongs to it; other newlines stay content.
  const ParsedOutput n =
      parse_every_way("a\n\n\n\n" + block({invoke("plain", {})}).substr(2) + EOS, ParserOptions{});
  EXPECT_EQ(n.content, "a\n\n");
}

TEST(OutputParser, FailureClass6_HeldBackPartialTextIsFlushedAtTheEnd) {
  for (const std::string tail :
       {"2 <", "2 <｜DS", "x\n\n", "x\n\n<｜DSML｜tool_ca", "<｜end▁of", "\xe6\x9d"}) {
    const ParsedOutput c = parse_every_way(tail, ParserOptions{});
    EXPECT_EQ(c.content, tail);
    const ParsedOutput r = parse_every_way(tail, thinking_options());
    EXPECT_EQ(r.reasoning, tail);
  }
  EXPECT_EQ(parse_every_way("so </thi", thinking_options()).reasoning, "so </thi");
}

TEST(OutputParser, FailureClass7_StringTrueIsByteExactAndStringFalseIsTyped) {
  const std::string code = "  def f(x):\n\treturn \"a\\n\" + 'b'  \n\n";
  const std::string text =
      block({invoke(
          "bash", {param("command", true, code), param("timeout", false, "30"), param("ratio", false, "0.5"),
                   param("verbose", false, "true"), param("env", false, R"({"A": "1", "B": [1, 2]})"),
                   param("args", false, R"(["-l", 3])")})}) +
      EOS;
  const ParsedOutput r = parse_every_way(text, thinking_options(kTools));
  ASSERT_EQ(r.tool_calls.size(), 1u);
  const Json& a = r.tool_calls[0].arguments;
  EXPECT_EQ(a["command"].get<std::string>(), code);
  EXPECT_EQ(a["timeout"], 30);
  EXPECT_TRUE(a["timeout"].is_number_integer());
  EXPECT_EQ(a["ratio"], 0.5);
  EXPECT_EQ(a["verbose"], true);
  EXPECT_EQ(a["env"], Json::parse(R"({"A": "1", "B": [1, 2]})"));
  EXPECT_EQ(a["args"], Json::parse(R"(["-l", 3])"));
  EXPECT_TRUE(r.errors.empty());
}

TEST(OutputParser, FailureClass7_SchemaCoercesLooseStringFalseValues) {
  const std::string text =
      block({invoke("bash", {param("command", false, "ls -la"), param("timeout", false, "\"7\""),
                             param("verbose", false, "True"), param("ratio", false, "abc")})});
  const ParsedOutput r = parse_every_way(text, thinking_options(kTools));
  ASSERT_EQ(r.tool_calls.size(), 1u);
  const Json& a = r.tool_calls[0].arguments;
  EXPECT_EQ(a["command"], "ls -la");  // string in the schema: the text
  EXPECT_EQ(a["timeout"], 7);
  EXPECT_EQ(a["verbose"], true);
  EXPECT_EQ(a["ratio"], "abc");  // not a number: raw text kept, error reported
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].raw, "abc");
}

TEST(OutputParser, FailureClass8_ArgumentsParameterIsOrdinaryWhenTheSchemaHasIt) {
  const ParsedOutput r = parse_every_way(block({invoke("wrap", {param("arguments", true, R"({"a": 1})")})}),
                                         thinking_options(kTools));
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].arguments, Json::parse(R"({"arguments": "{\"a\": 1}"})"));
}

TEST(OutputParser, FailureClass8_LoneArgumentsOrInputObjectIsUnwrappedWhenTheSchemaLacksIt) {
  for (const char* name : {"arguments", "input"}) {
    const ParsedOutput r =
        parse_every_way(block({invoke("plain", {param(name, false, R"({"path": "/x", "n": 2})")})}),
                        thinking_options(kTools));
    ASSERT_EQ(r.tool_calls.size(), 1u);
    EXPECT_EQ(r.tool_calls[0].arguments, Json::parse(R"({"path": "/x", "n": 2})")) << name;
  }
  // Not alone, or not an object: an ordinary parameter.
  const ParsedOutput two = parse_every_way(
      block({invoke("plain", {param("input", false, R"({"a": 1})"), param("n", false, "1")})}),
      thinking_options(kTools));
  EXPECT_EQ(two.tool_calls[0].arguments, Json::parse(R"({"input": {"a": 1}, "n": 1})"));
  const ParsedOutput text =
      parse_every_way(block({invoke("plain", {param("input", true, "hello")})}), thinking_options(kTools));
  EXPECT_EQ(text.tool_calls[0].arguments, Json::parse(R"({"input": "hello"})"));
}

TEST(OutputParser, FailureClass9_ToolCallIdsAreStableUniqueAndCallsKeepTheirOrder) {
  std::vector<std::string> invokes;
  for (int i = 0; i < 8; ++i) invokes.push_back(invoke("plain", {param("n", false, std::to_string(i))}));
  ParserOptions o = thinking_options(kTools);
  o.id_seed = 42;
  const ParsedOutput r = parse_every_way(block(invokes) + EOS, o);  // chunk-invariant ids included
  ASSERT_EQ(r.tool_calls.size(), 8u);
  std::set<std::string> ids;
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(r.tool_calls[i].arguments["n"], i);
    EXPECT_EQ(r.tool_calls[i].id, tool_call_id(42, i));
    ids.insert(r.tool_calls[i].id);
  }
  EXPECT_EQ(ids.size(), 8u);
  o.id_seed = 43;
  EXPECT_NE(parse_output(block(invokes), o).tool_calls[0].id, r.tool_calls[0].id);
}

TEST(OutputParser, TextAfterAClosedBlockIsNotInterpretedAgain) {
  const std::string again = "more" + block({invoke("plain", {})});
  const ParsedOutput r = parse_every_way(block({invoke("plain", {param("n", false, "1")})}) + again + EOS,
                                         thinking_options(kTools));
  ASSERT_EQ(r.tool_calls.size(), 1u);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].raw, again);
}

TEST(OutputParser, TextAfterEndOfSentenceIsReportedNotParsed) {
  const ParsedOutput r = parse_every_way("done" + EOS + "junk</think>", ParserOptions{});
  EXPECT_EQ(r.content, "done");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].raw, "junk</think>");
}

TEST(OutputParser, InvokeLeftOpenWhenTheBlockClosesIsAnError) {
  const std::string open = "<｜DSML｜invoke name=\"plain\">\n" + param("n", false, "1") + "\n";
  const ParsedOutput r = parse_every_way("\n\n<｜DSML｜tool_calls>\n" + open + "</｜DSML｜tool_calls>" + EOS,
                                         thinking_options(kTools));
  EXPECT_TRUE(r.tool_calls.empty());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].raw, open);
}

TEST(OutputParser, TextDeltasNeverSplitAUtf8Character) {
  const std::string text = "東京😀é</think>大阪";
  OutputParser parser(thinking_options());
  std::vector<ParseEvent> events;
  for (char c : text)
    for (auto& e : parser.feed(std::string_view(&c, 1))) events.push_back(std::move(e));
  for (auto& e : parser.finish()) events.push_back(std::move(e));
  for (const ParseEvent& e : events) {
    ASSERT_FALSE(e.text.empty());
    const auto lead = static_cast<unsigned char>(e.text[0]);
    EXPECT_NE(lead & 0xC0, 0x80) << "delta starts inside a character";
  }
  ParsedOutput r;
  collect(events, r);
  EXPECT_EQ(r.reasoning, "東京😀é");
  EXPECT_EQ(r.content, "大阪");
}

TEST(OutputParser, MissingStringAttributeIsTypedByTheSchema) {
  const std::string text =
      block({"<｜DSML｜invoke name=\"plain\">\n<｜DSML｜parameter name=\"n\">4</｜DSML｜parameter>\n"
             "<｜DSML｜parameter name=\"path\">5</｜DSML｜parameter>\n</｜DSML｜invoke>"});
  const ParsedOutput r = parse_every_way(text, thinking_options(kTools));
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].arguments, Json::parse(R"({"n": 4, "path": "5"})"));
}

}  // namespace
}  // namespace baleen::chat
