// The body of POST /v1/chat/completions (OpenAI's Chat Completions request) parsed into what one model
// turn needs. The conversation part (messages, tools, response_format, reasoning_effort) goes through
// chat::render_request_from_json, so `baleen render` and the server read messages the same way. Every
// other accepted field is listed in chat_request.cc; an unknown field, a wrong type or an unsupported value
// throws ApiError 400 naming the field.
#pragma once

#include <string>
#include <string_view>

#include "chat/conversation.h"
#include "session/turn_runner.h"

namespace baleen::server {

struct ChatRequest {
  std::string model;                // empty when the client did not name one
  chat::Conversation conversation;  // request tools and response_format attached
  session::TurnOptions turn;        // render options, tools for the parser, sampling, max_tokens
  bool max_tokens_given = false;    // false: turn.max_tokens is the server's default
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  int64_t choices = 1;         // n
};

// `defaults` supplies what the request leaves out (dialect, thinking, sampling, max_tokens).
ChatRequest parse_chat_request(std::string_view body, const session::TurnOptions& defaults);

}  // namespace baleen::server
