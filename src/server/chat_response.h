// OpenAI Chat Completions response bodies built from a model turn: the whole `chat.completion` object,
// and for streaming the `chat.completion.chunk` events (SSE `data:` lines) in the order the output parser
// yields reasoning, content and complete tool calls. DeepSeek's `reasoning_content` carries reasoning.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "chat/python_json.h"
#include "server/logprobs_json.h"
#include "session/turn_runner.h"

namespace baleen::server {

struct CompletionMeta {
  std::string id;       // "chatcmpl-..."
  int64_t created = 0;  // unix seconds
  std::string model;
};

// {"prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details": {"cached_tokens"}}
// over the choices of one prompt: the prompt counted once, with the tokens the first choice's session
// state already held (prefix reuse) as cached_tokens, and every choice's completion tokens.
chat::Json usage_json(std::span<const session::TurnResult> choices);

// choices[i] from choices[i]. `logprobs`: the request asked for them (choices[].logprobs), else null.
chat::Json completion_json(const CompletionMeta& meta, std::span<const session::TurnResult> choices,
                           const tokenizer::Tokenizer* logprobs = nullptr);

// One SSE event: "data: <json>\n\n".
std::string sse_event(const chat::Json& data);
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";
// The end of a streamed OpenAI response: with include_usage a last chunk (`chunk` without choices)
// carrying the choices' usage, then [DONE].
std::string stream_end(chat::Json chunk, bool include_usage, std::span<const session::TurnResult> choices);

// Turns one turn's parse events into the chunk events of choice `index`; one encoder per choice of a
// streamed response. With logprobs, the tokens sampled since the last content chunk ride on the next one,
// and the rest on the finish chunk.
class ChunkEncoder {
 public:
  ChunkEncoder(CompletionMeta meta, bool include_usage, const tokenizer::Tokenizer* logprobs = nullptr,
               int64_t index = 0);

  std::string begin() const;  // the first chunk: delta {"role": "assistant", "content": ""}
  std::string prompt(int64_t, int64_t) const { return ""; }  // usage comes last
  // The event's chunk; empty for parse errors, which are logged, not sent.
  std::string event(const chat::ParseEvent& event);
  void logprob(const TokenLogprob& token) { pending_.push_back(token); }
  // The choice's finish_reason chunk.
  std::string finish(const session::TurnResult& result);
  // After every choice's finish: the usage chunk when asked for, and [DONE].
  std::string close(std::span<const session::TurnResult> choices) const;
  // A failure after the stream started: a last `data: {"error": ...}` event.
  std::string error(std::string_view message) const;

 private:
  chat::Json chunk(chat::Json delta, chat::Json finish_reason) const;
  chat::Json take_logprobs(std::span<const TokenLogprob> tokens);

  CompletionMeta meta_;
  bool include_usage_;
  int64_t index_;
  int tool_index_ = 0;
  std::optional<LogprobsJson> logprobs_;
  std::vector<TokenLogprob> pending_;  // streamed, not yet sent
  size_t sent_ = 0;                    // answer tokens whose logprobs were sent
};

}  // namespace baleen::server
