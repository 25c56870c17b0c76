// A chat conversation as the encoder consumes it: OpenAI-style messages (system, developer, user,
// assistant, tool), tool calls and tool schemas kept as ordered JSON so their key order survives into the
// prompt. conversation_from_json validates and throws baleen::Error naming the offending field.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "chat/python_json.h"

namespace baleen::chat {

enum class Role { kSystem, kDeveloper, kUser, kAssistant, kTool };

std::string_view role_name(Role role);

// One tool call, as history (assistant message) or as parser output. `arguments` is a JSON object;
// in history it may instead hold the raw string the client sent when that string is not JSON.
struct ToolCall {
  std::string id;
  std::string name;
  Json arguments = Json::object();

  bool operator==(const ToolCall&) const = default;
};

struct Message {
  Role role = Role::kUser;
  std::string content;               // text, or the text blocks joined by "\n\n"
  std::string reasoning_content;     // assistant only
  std::vector<ToolCall> tool_calls;  // assistant only
  std::string tool_call_id;          // tool only
  Json tools;                        // null or array of function objects {name, description, parameters}
  Json response_format;              // null or the schema object
  // Assistant only: the turn's text exactly as the model sampled it (reasoning, "</think>", content, DSML
  // block), rendered verbatim instead of those parts when the turn's reasoning is rendered (or in chat
  // mode), so a re-sent turn renders to the tokens the session state holds. Set by the server only.
  std::string sampled;
};

struct Conversation {
  std::vector<Message> messages;
};

// Parses an OpenAI "messages" array. Errors name the field, e.g. "messages[2].tool_calls[0].function.name:
// expected a string". A tool message must answer a call of an earlier assistant message.
Conversation conversation_from_json(const Json& messages);

// Normalizes a "tools" array: each OpenAI tool {"type": "function", "function": {...}} (or a bare
// function object) becomes its function object; `what` names the field in errors.
Json tool_functions_from_json(const Json& tools, std::string_view what);

// The JSON schema type(s) of parameter `key` of a function object, or empty when it does not say.
std::vector<std::string> parameter_types(const Json& function, std::string_view key);
// Whether the function's parameters.properties has `key`.
bool has_parameter(const Json& function, std::string_view key);

}  // namespace baleen::chat
