// The body of POST /v1/messages and /v1/messages/count_tokens (Anthropic's Messages API) parsed into what
// one model turn needs: system (string or text blocks; Claude Code's per-request
// `x-anthropic-billing-header` block is dropped so it cannot defeat the prefix cache), messages of text,
// tool_use, tool_result, thinking and redacted_thinking blocks, tools with input_schema, tool_choice,
// thinking and output_config.effort mapped onto V4's thinking mode and reasoning effort, stop_sequences and
// sampling. Unknown fields, wrong types, images and a tool_result without its tool_use throw ApiError 400
// naming the field.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "chat/conversation.h"
#include "session/turn_runner.h"

namespace baleen::server {

struct MessagesRequest {
  std::string model;
  chat::Conversation conversation;  // request tools attached
  session::TurnOptions turn;        // max_tokens cut later to what the context has left
  bool stream = false;
  // Per message of `conversation`: the thinking signature its assistant turn carried, or "".
  std::vector<std::string> signatures;
};

// `count_tokens`: the count_tokens body (no max_tokens, stream or sampling fields). `defaults` supplies
// what the request leaves out (dialect, thinking, sampling).
MessagesRequest parse_messages_request(std::string_view body, const session::TurnOptions& defaults,
                                       bool count_tokens = false);

}  // namespace baleen::server
