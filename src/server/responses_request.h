// The body of POST /v1/responses (OpenAI's Responses API, as Codex CLI and the official SDK send it) parsed
// into what one model turn needs: `instructions` and leading system/developer items as the system prompt,
// input items (message, function_call, function_call_output, custom_tool_call(_output), reasoning), tools
// (function; Codex's custom/freeform tools as a function with one string `input`; namespace tools
// flattened to "namespace.name"), tool_choice, reasoning {effort, summary} onto V4's thinking mode and
// effort, max_output_tokens, store and previous_response_id (the stored conversation is put before the
// input). Unknown fields, wrong types, images and an output without its call throw ApiError 400 naming
// the field.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "chat/conversation.h"
#include "session/turn_runner.h"

namespace baleen::server {

struct ResponsesRequest {
  std::string model;
  chat::Conversation conversation;  // instructions first; then the previous response's history, then input
  chat::Conversation history;       // the same without the instructions: what a stored response keeps
  session::TurnOptions turn;
  bool max_tokens_given = false;
  bool stream = false;
  bool store = true;
  std::string previous_response_id;
  bool summary = false;  // reasoning.summary asked: the reasoning is also sent as its summary
  // Per message of `conversation`: the id of the reasoning or message item its assistant turn came from.
  std::vector<std::string> item_ids;
  std::set<std::string> custom_tools;  // tool names whose calls are custom_tool_call items
  std::map<std::string, std::pair<std::string, std::string>> namespaced;  // "ns.name" -> (ns, name)
  chat::Json echo;  // the request's settings a response object repeats (instructions, tools, ...)
};

// The conversation a stored response ended with, or nullopt for an unknown id.
using PreviousLookup = std::function<std::optional<chat::Conversation>(const std::string& id)>;

ResponsesRequest parse_responses_request(std::string_view body, const session::TurnOptions& defaults,
                                         const PreviousLookup& previous);

}  // namespace baleen::server
