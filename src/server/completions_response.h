// OpenAI Completions response bodies (`text_completion`) from a raw continuation: the whole object, and
// for streaming data-only SSE chunks of text, then the finish_reason chunk, the usage chunk when asked,
// and [DONE].
#pragma once

#include <cstdint>
#include <string>

#include "chat/python_json.h"
#include "server/chat_response.h"
#include "session/turn_runner.h"

namespace baleen::server {

// `echoed`: the prompt text the response starts with (echo: true), else empty.
chat::Json text_completion_json(const CompletionMeta& meta, const session::TurnResult& result,
                                const std::string& echoed);

class TextChunkEncoder {
 public:
  TextChunkEncoder(CompletionMeta meta, bool include_usage, std::string echoed);

  std::string begin() const;  // the echoed prompt, if any
  std::string prompt(int64_t, int64_t) const { return ""; }
  std::string event(const chat::ParseEvent& event) const;
  std::string finish(const session::TurnResult& result) const;
  std::string error(std::string_view message) const;

 private:
  chat::Json chunk(const std::string& text, chat::Json finish_reason) const;

  CompletionMeta meta_;
  bool include_usage_;
  std::string echoed_;
};

}  // namespace baleen::server
