// Property: for random conversations (fixed seed), the assistant turn the encoder renders parses back —
// under every chunking — into the same reasoning, content and tool calls.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "chat/encoder.h"
#include "chat/prompt_texts.h"
#include "chunked_parse.h"

namespace baleen::chat {
namespace {

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}

  size_t below(size_t n) { return rng_() % n; }

  // Text that is hard to parse (markup-like pieces, quotes, newlines, multi-byte UTF-8) but holds no
  // complete marker, which the format cannot carry inside text.
  std::string text(size_t max_pieces) {
    static const char* kPieces[] = {
        "a", "Z",  " ", "\n",    "\n\n", "\t",  "<",  ">",  "/", "\"",  "'",    "{",   "}",   "东京",
        "😀", "｜", "▁", "think", "DSML", "<｜", "</", "\\", "$", "0.5", "true", "<b>", "end", "</thinking>"};
    for (;;) {
      std::string s;
      const size_t n = below(max_pieces + 1);
      for (size_t i = 0; i < n; ++i) s += kPieces[below(std::size(kPieces))];
      if (s.find(text::kThinkEnd) == std::string::npos && s.find(text::kDsml) == std::string::npos &&
          s.find(text::kEos) == std::string::npos)
        return s;
    }
  }

  // A random JSON value and its schema type.
  std::pair<Json, std::string> value(int depth) {
    switch (below(depth > 1 ? 6 : 8)) {
      case 0:
        return {text(6), "string"};
      case 1:
        return {static_cast<int64_t>(rng_()) >> below(64), "integer"};
      case 2: {
        double d;
        do {
          const uint64_t bits = rng_();
          std::memcpy(&d, &bits, sizeof d);
        } while (!std::isfinite(d));
        return {below(2) ? d : static_cast<double>(below(1000)) / 8.0, "number"};
      }
      case 3:
        return {below(2) == 1, "boolean"};
      case 4:
        return {nullptr, "null"};
      case 5:
        return {text(3), "string"};
      case 6: {
        Json a = Json::array();
        for (size_t i = below(4); i > 0; --i) a.push_back(value(depth + 1).first);
        return {a, "array"};
      }
      default: {
        Json o = Json::object();
        for (size_t i = below(4); i > 0; --i) o[text(3)] = value(depth + 1).first;
        return {o, "object"};
      }
    }
  }

  // A call with its function schema (the parameter types match the values, as a model following the
  // schema writes them).
  std::pair<ToolCall, Json> call(size_t index) {
    ToolCall c;
    c.id = "id" + std::to_string(index);
    c.name = "tool_" + std::to_string(index);
    Json properties = Json::object();
    for (size_t k = below(5); k > 0; --k) {
      const std::string key = "p" + std::to_string(below(100));
      auto [v, type] = value(0);
      c.arguments[key] = v;
      properties[key] = Json{{"type", type}};
    }
    return {c, Json{{"name", c.name}, {"parameters", {{"type", "object"}, {"properties", properties}}}}};
  }

 private:
  std::mt19937_64 rng_;
};

TEST(RoundTrip, RenderedAssistantTurnsParseBackToTheSameMessage) {
  Generator gen(20260425);
  for (int round = 0; round < 150; ++round) {
    const bool thinking = gen.below(4) != 0;
    const Dialect dialect = gen.below(2) ? Dialect::kV4 : Dialect::kV41;
    Message assistant;
    assistant.role = Role::kAssistant;
    assistant.content = gen.text(8);
    if (thinking) assistant.reasoning_content = gen.text(8);
    Json functions = Json::array();
    for (size_t i = gen.below(4); i > 0; --i) {
      auto [c, f] = gen.call(assistant.tool_calls.size());
      assistant.tool_calls.push_back(c);
      functions.push_back(f);
    }
    Message user;
    user.content = gen.text(4);
    Conversation conv{{user, assistant}};
    attach_request_tools(conv, functions, Json());
    RenderOptions options;
    options.thinking = thinking;
    options.dialect = dialect;
    const std::string prompt = render_prompt(conv, options);
    const std::string header =
        std::string(text::kAssistant) + std::string(thinking ? text::kThinkStart : text::kThinkEnd);
    const size_t at = prompt.rfind(header);
    ASSERT_NE(at, std::string::npos);
    const std::string output = prompt.substr(at + header.size());

    ParserOptions parse;
    parse.starts_in_reasoning = thinking;
    parse.tools = functions;
    const ParsedOutput got = testing::parse_every_way(output, parse);
    SCOPED_TRACE("round " + std::to_string(round) + " output: " + output);
    EXPECT_EQ(got.reasoning, assistant.reasoning_content);
    EXPECT_EQ(got.content, assistant.content);
    EXPECT_TRUE(got.errors.empty()) << got.errors[0].message;
    ASSERT_EQ(got.tool_calls.size(), assistant.tool_calls.size());
    for (size_t i = 0; i < got.tool_calls.size(); ++i) {
      EXPECT_EQ(got.tool_calls[i].name, assistant.tool_calls[i].name);
      EXPECT_EQ(got.tool_calls[i].arguments, assistant.tool_calls[i].arguments)
          << got.tool_calls[i].arguments.dump() << " vs " << assistant.tool_calls[i].arguments.dump();
    }
  }
}

}  // namespace
}  // namespace baleen::chat
