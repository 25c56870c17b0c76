// Tokenizers for the tests: the installed DeepSeek file with V4's tokens (nullptr when not installed:
// tests that need it skip), a small synthetic tokenizer.json that needs no download, and seeded random
// Unicode text biased toward the cases tokenizers get wrong.
#pragma once

#include <filesystem>
#include <random>
#include <string>

#include "tokenizer/tokenizer.h"

namespace baleen::tokenizer::testing {

// Loaded once; nullptr when default_tokenizer_path() does not exist.
const Tokenizer* installed_v4_tokenizer();

// A tokenizer.json text: the 256 byte tokens (ids 0-255), merges "a b"->256, "ab c"->257, " a"->258,
// "x y"->259, the DeepSeek pre-tokenizer, and added tokens "<s>" (id 300, special) and "<｜U｜>" (301).
std::string tiny_tokenizer_json();

// Writes `text` to a fresh file under the test temp dir and returns its path.
std::filesystem::path write_temp_file(const std::string& name, const std::string& text);

// Random valid UTF-8: ASCII, whitespace of every kind, digits, CJK, combining marks, emoji with ZWJ
// and skin tones, code points from every plane, and DeepSeek special-token strings.
std::string random_text(std::mt19937& rng, size_t max_chars);

}  // namespace baleen::tokenizer::testing
