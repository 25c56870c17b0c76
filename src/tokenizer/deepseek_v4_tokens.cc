#include "tokenizer/deepseek_v4_tokens.h"

#include <array>

namespace baleen::tokenizer {
namespace {

// Ids as V4's released tokenizer assigns them (cross-checked against public V4 tokenizer tests, see
// reference/NOTES.md). Flags follow V3's chat-structure tokens (<｜User｜>: special false, normalized
// true) so decode keeps them in text for the chat parsers; the image placeholder is special.
AddedToken token(const char* content, uint32_t id, bool special = false) {
  return AddedToken{content, id, special, false, false, !special};
}

const std::array<AddedToken, 11>& tokens() {
  static const std::array<AddedToken, 11> list = {
      token("<think>", 128821),
      token("</think>", 128822),
      token("｜DSML｜", 128825),
      token("<｜latest_reminder｜>", 128828),
      token("<｜action｜>", 128829),
      token("<｜query｜>", 128830),
      token("<｜authority｜>", 128831),
      token("<｜domain｜>", 128832),
      token("<｜title｜>", 128836),
      token("<｜read_url｜>", 128845),
      token("<｜image｜>", 129279, true),
  };
  return list;
}

}  // namespace

std::span<const AddedToken> deepseek_v4_added_tokens() { return tokens(); }

Tokenizer load_deepseek_v4(const std::filesystem::path& file) {
  Tokenizer tokenizer = Tokenizer::load(file);
  tokenizer.add_tokens(deepseek_v4_added_tokens());
  return tokenizer;
}

}  // namespace baleen::tokenizer
