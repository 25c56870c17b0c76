// The body of POST /v1/completions (OpenAI's legacy Completions request): a raw prompt, text or token
// ids, continued as plain text (no chat template, no reasoning or tool-call parsing). A text prompt gets
// BOS first unless it starts with it. Unknown fields, wrong types and unsupported values throw ApiError
// 400 naming the field.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "session/turn_runner.h"

namespace baleen::server {

struct CompletionsRequest {
  std::string model;
  std::variant<std::string, std::vector<int32_t>> prompt;  // text, or token ids as given
  session::TurnOptions turn;                               // raw_output set
  bool max_tokens_given = false;
  bool stream = false;
  bool include_usage = false;
  bool echo = false;  // the response text starts with the prompt
  int64_t choices = 1;  // n
};

// `vocab_size`: token ids must lie in [0, vocab_size).
CompletionsRequest parse_completions_request(std::string_view body, const session::TurnOptions& defaults,
                                             int64_t vocab_size);

}  // namespace baleen::server
