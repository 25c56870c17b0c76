// GPT-2's byte-level alphabet, as used by Hugging Face's ByteLevel pre-tokenizer and decoder: each of
// the 256 bytes is shown as one printable code point. baleen converts vocab strings to raw bytes once
// at load, so encoding and decoding work on bytes directly.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace baleen::tokenizer {

// The code point that stands for a byte.
char32_t byte_level_char(uint8_t byte);

// The raw bytes a byte-level string stands for; nullopt when it holds a code point outside the
// alphabet (as added tokens like "<｜User｜>" do) or is not valid UTF-8.
std::optional<std::string> byte_level_to_bytes(std::string_view text);

// The byte-level string of raw bytes (the inverse of byte_level_to_bytes).
std::string bytes_to_byte_level(std::string_view bytes);

}  // namespace baleen::tokenizer
