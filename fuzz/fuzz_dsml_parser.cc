// Fuzzes the streaming reasoning / DSML parser: arbitrary bytes, parsed whole and under a chunking drawn
// from the input, must not crash and must give the same (coalesced) events.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "chat/output_parser.h"

namespace {

using baleen::chat::ParseEvent;

// mode 0: one chunk; 1: byte by byte; otherwise the seed of chunk lengths 1..16.
std::vector<ParseEvent> run(std::string_view text, const baleen::chat::ParserOptions& options,
                            uint64_t mode) {
  baleen::chat::OutputParser parser(options);
  std::vector<ParseEvent> events;
  size_t pos = 0;
  uint64_t x = mode;
  while (pos < text.size()) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;  // xorshift
    const size_t len = mode == 0 ? text.size() : mode == 1 ? 1 : 1 + x % 16;
    for (auto& e : parser.feed(text.substr(pos, len))) events.push_back(std::move(e));
    pos += len;
  }
  for (auto& e : parser.finish()) events.push_back(std::move(e));
  return baleen::chat::coalesce(events);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  static const baleen::chat::Json kTools = baleen::chat::Json::parse(R"([
    {"name": "f", "parameters": {"properties": {"i": {"type": "integer"}, "s": {"type": "string"},
      "b": {"type": "boolean"}, "o": {"type": "object"}, "n": {"type": ["number", "null"]}}}},
    {"name": "g", "parameters": {"properties": {"arguments": {"type": "string"}}}}])");
  baleen::chat::ParserOptions options;
  options.starts_in_reasoning = data[0] & 1;
  if (data[0] & 2) options.tools = kTools;
  options.id_seed = data[1];
  const std::string_view text(reinterpret_cast<const char*>(data + 2), size - 2);
  const auto whole = run(text, options, 0);
  if (whole != run(text, options, 1)) std::abort();
  if (whole != run(text, options, 2 + data[0] * 2654435761u + data[1])) std::abort();
  return 0;
}
