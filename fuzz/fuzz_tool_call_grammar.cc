// Fuzzes the forced-tool-call grammar: arbitrary bytes fed to it never crash; the longest prefix it accepts
// parses with the output parser into calls of the allowed tools only, and a prefix that closes the block
// parses into at least one call (exactly one when parallel calls are off) with no error and no content.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "chat/output_parser.h"
#include "chat/tool_call_grammar.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using baleen::chat::Json;
  if (size < 1) return 0;
  static const Json kTools = Json::parse(R"([
    {"name": "f", "parameters": {"properties": {"i": {"type": "integer"}, "s": {"type": "string"},
      "b": {"type": "boolean"}, "o": {"type": "object"}, "n": {"type": ["number", "null"]}, "any": {}},
      "required": ["i"]}},
    {"name": "ff", "parameters": {"properties": {"arguments": {"type": "string"}}}},
    {"name": "g", "parameters": {"properties": {}}}])");
  const bool parallel = data[0] & 1, reasoning = data[0] & 2;
  const auto dialect = data[0] & 4 ? baleen::chat::Dialect::kV41 : baleen::chat::Dialect::kV4;
  const baleen::chat::ToolCallGrammar grammar(baleen::chat::dsml_tags(dialect), kTools, parallel, reasoning);
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  auto state = grammar.start();
  size_t accepted = 0;
  while (accepted < text.size() && grammar.advance(state, text[accepted])) ++accepted;
  const bool complete = grammar.complete(state);
  std::string output(text.substr(0, accepted));
  if (complete) output += "<｜end▁of▁sentence｜>";
  const auto parsed =
      baleen::chat::parse_output(output, {.starts_in_reasoning = reasoning, .tools = kTools, .id_seed = 0});
  for (const auto& call : parsed.tool_calls)
    if (call.name != "f" && call.name != "ff" && call.name != "g") std::abort();
  if (complete) {
    if (!parsed.errors.empty() || !parsed.content.empty() || parsed.tool_calls.empty()) std::abort();
    if (!parallel && parsed.tool_calls.size() != 1) std::abort();
  }
  return 0;
}
