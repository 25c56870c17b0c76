// OpenAI Completions response bodies (`text_completion`) from a raw continuation: the whole object, and
// for streaming data-only SSE chunks of text, then the finish_reason chunk, the usage chunk when asked,
// and [DONE].
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "chat/python_json.h"
#include "server/chat_response.h"
#include "session/turn_runner.h"

namespace baleen::server {

// `echoed`: the prompt text the response starts with (echo: true), else empty. `logprobs`: the request
// asked for them (choices[].logprobs; text_offset counts bytes of the choice's text), else null.
// choices[i] from choices[i].
chat::Json text_completion_json(const CompletionMeta& meta, std::span<const session::TurnResult> choices,
                                const std::string& echoed, const tokenizer::Tokenizer* logprobs = nullptr);

// The chunks of choice `index`; one encoder per choice of a streamed response.
class TextChunkEncoder {
 public:
  TextChunkEncoder(CompletionMeta meta, bool include_usage, std::string echoed,
                   const tokenizer::Tokenizer* logprobs = nullptr, int64_t index = 0);

  std::string begin() const;  // the echoed prompt, if any
  std::string prompt(int64_t, int64_t) const { return ""; }
  // A text chunk; with logprobs it carries the tokens sampled since the last one (the rest: finish).
  std::string event(const chat::ParseEvent& event);
  void logprob(const TokenLogprob& token) { pending_.push_back(token); }
  std::string finish(const session::TurnResult& result);  // the choice's finish_reason chunk
  // After every choice's finish: the usage chunk when asked for, and [DONE].
  std::string close(std::span<const session::TurnResult> choices) const;
  std::string error(std::string_view message) const;

 private:
  chat::Json chunk(const std::string& text, chat::Json finish_reason) const;

  chat::Json take_logprobs(std::span<const TokenLogprob> tokens);

  CompletionMeta meta_;
  bool include_usage_;
  std::string echoed_;
  int64_t index_;
  std::optional<LogprobsJson> logprobs_;
  std::vector<TokenLogprob> pending_;
  size_t sent_ = 0;
};

}  // namespace baleen::server
