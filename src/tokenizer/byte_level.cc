#include "tokenizer/byte_level.h"

#include <array>

#include "tokenizer/utf8.h"

namespace baleen::tokenizer {
namespace {

// bytes_to_unicode() of GPT-2: printable Latin-1 bytes map to themselves, the other 68 bytes to
// U+0100 upwards in byte order.
struct Alphabet {
  std::array<char32_t, 256> char_of{};
  std::array<int16_t, 0x144> byte_of{};  // code point -> byte, -1 where none

  Alphabet() {
    byte_of.fill(-1);
    char32_t next = 0x100;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      char_of[b] = printable ? static_cast<char32_t>(b) : next++;
      byte_of[char_of[b]] = static_cast<int16_t>(b);
    }
  }
};

const Alphabet& alphabet() {
  static const Alphabet table;
  return table;
}

}  // namespace

char32_t byte_level_char(uint8_t byte) { return alphabet().char_of[byte]; }

std::optional<std::string> byte_level_to_bytes(std::string_view text) {
  std::string bytes;
  bytes.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    const Utf8Step step = utf8_step(text, pos);
    if (step.kind != Utf8Step::Kind::kValid || step.code_point >= alphabet().byte_of.size()) return std::nullopt;
    const int16_t byte = alphabet().byte_of[step.code_point];
    if (byte < 0) return std::nullopt;
    bytes.push_back(static_cast<char>(byte));
    pos += step.length;
  }
  return bytes;
}

std::string bytes_to_byte_level(std::string_view bytes) {
  std::string text;
  text.reserve(bytes.size() * 2);
  for (const char c : bytes) append_utf8(text, byte_level_char(static_cast<uint8_t>(c)));
  return text;
}

}  // namespace baleen::tokenizer
