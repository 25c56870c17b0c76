// OpenAI Chat Completions response bodies built from a model turn: the whole `chat.completion` object,
// and for streaming the `chat.completion.chunk` events (SSE `data:` lines) in the order the output parser
// yields reasoning, content and complete tool calls. DeepSeek's `reasoning_content` carries reasoning.
#pragma once

#include <cstdint>
#include <string>

#include "chat/python_json.h"
#include "session/turn_runner.h"

namespace baleen::server {

struct CompletionMeta {
  std::string id;       // "chatcmpl-..."
  int64_t created = 0;  // unix seconds
  std::string model;
};

// {"prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details": {"cached_tokens"}}
// where cached_tokens counts the prompt tokens the session state already held (prefix reuse).
chat::Json usage_json(const session::TurnResult& result);

chat::Json completion_json(const CompletionMeta& meta, const session::TurnResult& result);

// One SSE event: "data: <json>\n\n".
std::string sse_event(const chat::Json& data);
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

// Turns one turn's parse events into chunk events; one encoder per streamed response.
class ChunkEncoder {
 public:
  ChunkEncoder(CompletionMeta meta, bool include_usage);

  std::string begin() const;  // the first chunk: delta {"role": "assistant", "content": ""}
  std::string prompt(int64_t, int64_t) const { return ""; }  // usage comes last
  // The event's chunk; empty for parse errors, which are logged, not sent.
  std::string event(const chat::ParseEvent& event);
  // The finish_reason chunk, the usage chunk when asked for, and [DONE].
  std::string finish(const session::TurnResult& result) const;
  // A failure after the stream started: a last `data: {"error": ...}` event.
  std::string error(std::string_view message) const;

 private:
  chat::Json chunk(chat::Json delta, chat::Json finish_reason) const;

  CompletionMeta meta_;
  bool include_usage_;
  int tool_index_ = 0;
};

}  // namespace baleen::server
