// OpenAI's `logprobs` objects from the answer tokens' log-probabilities (engine/token_logprobs.h): Chat
// Completions' {"content": [{token, logprob, bytes, top_logprobs}], "refusal": null} and Completions'
// {tokens, token_logprobs, top_logprobs, text_offset}. A token whose bytes are not valid UTF-8 on their own
// (part of a character) is named "bytes:\xNN..." as OpenAI does; `bytes` is always the truth. One per
// response: the text offset runs on across the chunks of a stream.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "chat/python_json.h"
#include "engine/token_logprobs.h"
#include "tokenizer/tokenizer.h"

namespace baleen::server {

class LogprobsJson {
 public:
  // `text_offset`: where the first token's text starts in the choice's text (after an echoed prompt).
  explicit LogprobsJson(const tokenizer::Tokenizer& tokenizer, int64_t text_offset = 0)
      : tokenizer_(tokenizer), offset_(text_offset) {}

  chat::Json chat(std::span<const TokenLogprob> tokens) const;
  chat::Json text(std::span<const TokenLogprob> tokens);  // advances the text offset

 private:
  std::string_view bytes(int32_t token) const;
  std::string name(int32_t token) const;

  const tokenizer::Tokenizer& tokenizer_;
  int64_t offset_;
};

// A logprob as JSON: -inf (a masked id) as OpenAI's -9999.0, since JSON has no infinity.
double json_logprob(double logprob);

}  // namespace baleen::server
