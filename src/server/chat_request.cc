#include "server/chat_request.h"

#include <algorithm>
#include <array>
#include <optional>

#include "chat/render_request.h"
#include "engine/sampler.h"
#include "server/api_error.h"
#include "server/request_fields.h"

namespace baleen::server {
namespace {

using chat::Json;

// Every top-level field the server reads. Unknown fields are refused rather than ignored so a client
// never believes a setting took effect when it did not.
constexpr std::array<std::string_view, 23> kKnownFields = {"model",
                                                           "messages",
                                                           "tools",
                                                           "tool_choice",
                                                           "parallel_tool_calls",
                                                           "max_tokens",
                                                           "max_completion_tokens",
                                                           "temperature",
                                                           "top_p",
                                                           "seed",
                                                           "stop",
                                                           "stream",
                                                           "stream_options",
                                                           "n",
                                                           "response_format",
                                                           "reasoning_effort",
                                                           "thinking",
                                                           "chat_template_kwargs",
                                                           "user",
                                                           "frequency_penalty",
                                                           "presence_penalty",
                                                           "logprobs",
                                                           "top_logprobs"};

// Thinking mode from DeepSeek's API spelling `thinking: {"type": "enabled"|"disabled"}` (or a bare bool,
// render_request's spelling) and from vLLM/SGLang's `chat_template_kwargs: {"thinking": bool}`.
bool resolve_thinking(const Json& body, bool fallback) {
  std::optional<bool> top, kwarg;
  if (const Json* t = field(body, "thinking")) {
    if (t->is_boolean()) {
      top = t->get<bool>();
    } else if (t->is_object() && t->size() == 1 && t->contains("type") && t->at("type").is_string() &&
               (t->at("type") == "enabled" || t->at("type") == "disabled")) {
      top = t->at("type") == "enabled";
    } else {
      reject("thinking", "thinking: expected true, false or {{\"type\": \"enabled\"|\"disabled\"}}, got {}",
             t->dump());
    }
  }
  if (const Json* k = field(body, "chat_template_kwargs")) {
    if (!k->is_object()) reject("chat_template_kwargs", "chat_template_kwargs: expected an object");
    for (const auto& [key, value] : k->items()) {
      if (key != "thinking")
        unsupported("chat_template_kwargs", "chat_template_kwargs.{}: not supported (only \"thinking\")",
                    key);
      if (!value.is_boolean())
        reject("chat_template_kwargs", "chat_template_kwargs.thinking: expected true or false, got {}",
               value.type_name());
      kwarg = value.get<bool>();
    }
  }
  if (top && kwarg && *top != *kwarg)
    reject("thinking", "thinking ({}) and chat_template_kwargs.thinking ({}) disagree", *top, *kwarg);
  return top.value_or(kwarg.value_or(fallback));
}

// tool_choice: "auto" (the default) offers the tools, "none" leaves them out; "required" or
// {"type": "function", "function": {"name"}} forces a call, of any tool or of the named one (then only it
// is offered).
struct ToolChoice {
  bool offered = true;
  bool forced = false;
  std::optional<std::string> name;
};

ToolChoice tool_choice(const Json& body) {
  const Json* choice = field(body, "tool_choice");
  if (!choice || *choice == "auto") return {};
  if (*choice == "none") return {.offered = false, .forced = false, .name = {}};
  if (*choice == "required") return {.offered = true, .forced = true, .name = {}};
  if (!choice->is_object())
    reject("tool_choice", "tool_choice: expected \"auto\", \"none\", \"required\" or an object, got {}",
           choice->dump());
  if (string_field(*choice, "type", "tool_choice") != "function")
    reject("tool_choice.type", "tool_choice.type: expected \"function\", got {}", choice->dump());
  const Json* function = field(*choice, "function");
  if (!function || !function->is_object())
    reject("tool_choice.function", "tool_choice.function: expected an object with a name");
  std::optional<std::string> name = string_field(*function, "name", "tool_choice.function");
  if (!name) reject("tool_choice.function.name", "tool_choice.function.name: missing");
  return {.offered = true, .forced = true, .name = std::move(name)};
}

// The request's tools narrowed to the named one (400 when there is no such tool).
Json named_tool(const Json& body, const std::string& name) {
  const Json* tools = field(body, "tools");
  for (const Json& t : tools && tools->is_array() ? *tools : Json::array())
    if (t.is_object() && t.contains("function") && t["function"].is_object() &&
        t["function"].value("name", "") == name)
      return Json::array({t});
  reject("tool_choice.function.name", "tool_choice.function.name: no tool named \"{}\"", name);
}

int64_t max_tokens(const Json& body, bool& given) {
  const std::optional<int64_t> completion = int_field(body, "max_completion_tokens");
  const std::optional<int64_t> legacy = int_field(body, "max_tokens");
  if (completion && legacy && *completion != *legacy)
    reject("max_tokens", "max_tokens ({}) and max_completion_tokens ({}) disagree", *legacy, *completion);
  const std::optional<int64_t> n = completion ? completion : legacy;
  given = n.has_value();
  if (n && *n < 1)
    reject(completion ? "max_completion_tokens" : "max_tokens", "{}: must be >= 1, got {}",
           completion ? "max_completion_tokens" : "max_tokens", *n);
  return n.value_or(0);
}

// logprobs: true, with top_logprobs in [0, 20] alternatives (OpenAI's bound); top_logprobs alone is a 400.
void read_logprobs(const Json& body, session::TurnOptions& turn) {
  const bool wanted = bool_field(body, "logprobs", false);
  const std::optional<int64_t> top = int_field(body, "top_logprobs");
  if (top && (*top < 0 || *top > 20)) reject("top_logprobs", "top_logprobs: must be in [0, 20], got {}", *top);
  if (top && !wanted) reject("top_logprobs", "top_logprobs: requires logprobs to be true");
  turn.logprobs = wanted ? top.value_or(0) : -1;
}

void read_streaming(const Json& body, ChatRequest& out) {
  out.stream = bool_field(body, "stream", false);
  const Json* options = field(body, "stream_options");
  if (!options) return;
  if (!out.stream) reject("stream_options", "stream_options: only allowed when stream is true");
  if (!options->is_object()) reject("stream_options", "stream_options: expected an object");
  for (const auto& [key, value] : options->items()) {
    if (key != "include_usage")
      unsupported("stream_options", "stream_options.{}: not supported (only \"include_usage\")", key);
  }
  out.include_usage = bool_field(*options, "include_usage", false);
}

}  // namespace

ChatRequest parse_chat_request(std::string_view text, const session::TurnOptions& defaults) {
  const Json body = parse_body(text, kKnownFields);
  ChatRequest out;
  out.turn = defaults;
  if (const Json* model = field(body, "model")) {
    if (!model->is_string()) reject("model", "model: expected a string, got {}", model->type_name());
    out.model = model->get<std::string>();
  }
  out.choices = choices_field(body);
  read_penalties(body, out.turn.penalties);
  read_logprobs(body, out.turn);
  const bool parallel = bool_field(body, "parallel_tool_calls", true);
  read_streaming(body, out);
  read_sampling(body, out.turn.sampling);
  out.turn.stop_sequences = stop_sequences(body);
  if (const int64_t n = max_tokens(body, out.max_tokens_given); out.max_tokens_given) out.turn.max_tokens = n;

  // The conversation goes through render_request so the server and `baleen render` agree byte for byte.
  const ToolChoice choice = tool_choice(body);
  const Json* body_tools = field(body, "tools");
  const Json tools = !choice.offered ? Json() : choice.name ? named_tool(body, *choice.name)
                                              : body_tools ? *body_tools : Json();
  Json render = {{"thinking", resolve_thinking(body, defaults.render.thinking)},
                 {"drop_thinking", defaults.render.drop_thinking},
                 {"dialect", chat::dialect_name(defaults.render.dialect)}};
  if (const Json* messages = field(body, "messages"); messages && messages->is_array() && messages->empty())
    reject("messages", "messages: at least one message is required");
  for (const char* key : {"messages", "response_format", "reasoning_effort"}) {
    if (body.contains(key)) render[key] = body.at(key);
  }
  if (!tools.is_null()) render["tools"] = tools;
  try {
    chat::RenderRequest rendered = chat::render_request_from_json(render);
    out.conversation = std::move(rendered.conversation);
    out.turn.render = rendered.options;
  } catch (const Error& e) {
    throw invalid_request(e);
  }
  out.turn.tools = tools;
  if (choice.forced) force_tool_call(tools, parallel, "tool_choice", out.turn);
  return out;
}

}  // namespace baleen::server
