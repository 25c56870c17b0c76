// OpenAI Completions response bodies (`text_completion`) from a raw continuation: the whole object, and
// for streaming data-only SSE chunks of text, then the finish_reason chunk, the usage chunk when asked,
// and [DONE].
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "chat/python_json.h"
#include "server/chat_response.h"
#include "session/turn_runner.h"

namespace baleen::server {

// `echoed`: the prompt text the response starts with (echo: true), else empty. `logprobs`: the request
// asked for them (choices[].logprobs; text_offset counts bytes of the choice's text), else null.
chat::Json text_completion_json(const CompletionMeta& meta, const session::TurnResult& result,
                                const std::string& echoed, const tokenizer::Tokenizer* logprobs = nullptr);

class TextChunkEncoder {
 public:
  TextChunkEncoder(CompletionMeta meta, bool include_usage, std::string echoed,
                   const tokenizer::Tokenizer* logprobs = nullptr);

  std::string begin() const;  // the echoed prompt, if any
  std::string prompt(int64_t, int64_t) const { return ""; }
  // A text chunk; with logprobs it carries the tokens sampled since the last one (the rest: finish).
  std::string event(const chat::ParseEvent& event);
  void logprob(const TokenLogprob& token) { pending_.push_back(token); }
  std::string finish(const session::TurnResult& result);
  std::string error(std::string_view message) const;

 private:
  chat::Json chunk(const std::string& text, chat::Json finish_reason) const;

  chat::Json take_logprobs(std::span<const TokenLogprob> tokens);

  CompletionMeta meta_;
  bool include_usage_;
  std::string echoed_;
  std::optional<LogprobsJson> logprobs_;
  std::vector<TokenLogprob> pending_;
  size_t sent_ = 0;
};

}  // namespace baleen::server
