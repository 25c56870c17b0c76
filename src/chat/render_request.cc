#include "chat/render_request.h"

#include "core/error.h"

namespace baleen::chat {
namespace {

bool optional_bool(const Json& request, const char* key, bool fallback) {
  const auto it = request.find(key);
  if (it == request.end() || it->is_null()) return fallback;
  check(it->is_boolean(), "{}: expected true or false, got {}", key, it->type_name());
  return it->get<bool>();
}

ReasoningEffort parse_effort(const Json& request) {
  const auto it = request.find("reasoning_effort");
  if (it == request.end() || it->is_null()) return {};
  if (it->is_string()) return ReasoningEffort{.level = it->get<std::string>()};
  check(it->is_number_integer(), "reasoning_effort: expected a level name, an integer budget or null, got {}",
        it->type_name());
  const int64_t budget = it->get<int64_t>();
  check(budget >= 1 && budget <= 100, "reasoning_effort: a budget must be in [1, 100], got {}", budget);
  return ReasoningEffort{"", static_cast<int>(budget)};
}

}  // namespace

RenderRequest render_request_from_json(const Json& request) {
  check(request.is_object(), "request: expected a JSON object, got {}", request.type_name());
  const auto messages = request.find("messages");
  check(messages != request.end(), "messages: missing");
  RenderRequest out;
  out.conversation = conversation_from_json(*messages);
  Json tools;
  if (const auto t = request.find("tools"); t != request.end() && !t->is_null())
    tools = tool_functions_from_json(*t, "tools");
  Json response_format;
  if (const auto rf = request.find("response_format"); rf != request.end() && !rf->is_null()) {
    check(rf->is_object(), "response_format: expected an object");
    response_format = *rf;
  }
  attach_request_tools(out.conversation, tools, response_format);
  out.options.thinking = optional_bool(request, "thinking", false);
  out.options.drop_thinking = optional_bool(request, "drop_thinking", true);
  out.options.effort = parse_effort(request);
  if (const auto d = request.find("dialect"); d != request.end() && !d->is_null()) {
    check(d->is_string(), "dialect: expected a string");
    out.options.dialect = parse_dialect(d->get<std::string>());
  }
  if (out.options.effort.budget != 0)
    check(out.options.dialect == Dialect::kV41, "reasoning_effort: integer budgets exist only in v4.1");
  return out;
}

std::string render_request_text(std::string_view json_text) {
  const RenderRequest request = render_request_from_json(parse_json_text(json_text, "request"));
  return render_prompt(request.conversation, request.options);
}

}  // namespace baleen::chat
