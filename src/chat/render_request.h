// The JSON request layer of `baleen render`: one object {"messages": [...], "tools": [...], "thinking": bool,
// "reasoning_effort": "high"|"max"|null|1..100, "dialect": "v4"|"v4-0731"|"v4.1", "drop_thinking": bool,
// "response_format": {...}} becomes a conversation + options. Any bad field throws baleen::Error naming it.
#pragma once

#include <string_view>

#include "chat/conversation.h"
#include "chat/encoder.h"

namespace baleen::chat {

struct RenderRequest {
  Conversation conversation;  // request-level tools and response_format already attached
  RenderOptions options;
};

RenderRequest render_request_from_json(const Json& request);

// Parses JSON text and renders it: the whole path of one `baleen render` line.
std::string render_request_text(std::string_view json_text);

}  // namespace baleen::chat
