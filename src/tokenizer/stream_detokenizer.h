// Streaming detokenizer: feed token ids one at a time and get text as soon as it is complete. Output
// is always valid UTF-8: bytes of a character split across tokens are held back until it completes;
// bytes that can never complete become U+FFFD. The concatenated output equals Tokenizer::decode of
// all ids. Holds a reference to the tokenizer; one stream per sequence, not thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "tokenizer/tokenizer.h"

namespace baleen::tokenizer {

class StreamDetokenizer {
 public:
  explicit StreamDetokenizer(const Tokenizer& tokenizer, DecodeOptions options = {})
      : tokenizer_(tokenizer), options_(options) {}

  // Appends to `out` the text this token completes (possibly nothing). Error for an unknown id.
  void push(uint32_t id, std::string& out);
  std::string push(uint32_t id);

  // The held-back bytes of an unfinished character, as U+FFFD (empty when nothing is held).
  std::string flush();

  // Bytes held back now (at most 3).
  size_t pending() const { return pending_.size(); }

 private:
  const Tokenizer& tokenizer_;
  DecodeOptions options_;
  std::string pending_;
};

}  // namespace baleen::tokenizer
