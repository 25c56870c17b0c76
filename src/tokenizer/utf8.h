// UTF-8 scanning shared by the tokenizer: validation, one-sequence stepping, and lossy repair that
// replaces each maximal invalid subpart with U+FFFD (the WHATWG / Rust from_utf8_lossy rule, so our
// decode matches Hugging Face `tokenizers` byte for byte). Pure functions; never throw.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace baleen::tokenizer {

inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

// One step of a UTF-8 scan at a position: a valid sequence, an invalid maximal subpart (to be
// replaced by one U+FFFD), or a valid prefix cut off by the end of the input.
struct Utf8Step {
  enum class Kind { kValid, kInvalid, kIncomplete };
  Kind kind;
  size_t length;         // bytes consumed (>= 1)
  char32_t code_point;   // meaningful for kValid only
};

// Scans the sequence starting at s[pos] (pos < s.size()).
Utf8Step utf8_step(std::string_view s, size_t pos);

// Byte offset of the first byte that is not part of a valid sequence, or npos when all is valid.
size_t find_invalid_utf8(std::string_view s);

inline bool is_valid_utf8(std::string_view s) { return find_invalid_utf8(s) == std::string_view::npos; }

// s with every invalid or truncated subpart replaced by U+FFFD.
std::string utf8_lossy(std::string_view s);

// Appends the UTF-8 encoding of a code point.
void append_utf8(std::string& out, char32_t code_point);

}  // namespace baleen::tokenizer
