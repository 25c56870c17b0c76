#include "server/responses_request.h"

#include <algorithm>
#include <array>

#include "server/request_fields.h"

namespace baleen::server {
namespace {

using chat::Json;
using chat::Role;

// prompt_cache_key, metadata, user, safety_identifier, service_tier, truncation, include, stream_options
// max_tool_calls and client_metadata (Codex) carry nothing this engine acts on: accepted and ignored (docs/SERVER.md).
constexpr std::array<std::string_view, 28> kKnownFields = {
    "model",       "input",           "instructions",      "tools",          "tool_choice",
    "parallel_tool_calls", "store",   "previous_response_id", "reasoning",   "max_output_tokens",
    "include",     "stream",          "stream_options",    "temperature",    "top_p",
    "metadata",    "user",            "prompt_cache_key",  "service_tier",   "truncation",
    "text",        "safety_identifier", "background",      "conversation",   "max_tool_calls",
    "top_logprobs", "prompt_cache_retention", "client_metadata"};

// Item types Codex may replay that have no place in V4's prompt (server-side tools, local snapshots,
// compaction blobs only OpenAI can read): skipped.
constexpr std::array<std::string_view, 8> kSkippedItems = {
    "web_search_call", "file_search_call", "local_shell_call", "ghost_snapshot",
    "compaction",      "compaction_summary", "tool_search_call", "tool_search_output"};

std::string item_text(const Json& content, const std::string& where) {
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) reject(where, "{}: expected a string or an array of content parts", where);
  std::string out;
  for (size_t i = 0; i < content.size(); ++i) {
    const std::string at = fmt::format("{}[{}]", where, i);
    const Json& part = content[i];
    if (!part.is_object()) reject(at, "{}: expected a content part object", at);
    const std::string type = string_field(part, "type", at).value_or("");
    if (type == "input_image" || type == "input_file" || type == "input_audio")
      unsupported(at + ".type", "{}: {} content is not supported: the served model reads text only", at, type);
    if (type != "input_text" && type != "output_text" && type != "text" && type != "refusal" &&
        type != "summary_text" && type != "reasoning_text")
      unsupported(at + ".type", "{}.type: \"{}\" parts are not supported", at, type);
    const std::optional<std::string> text = string_field(part, type == "refusal" ? "refusal" : "text", at);
    if (!text) reject(at + ".text", "{}.text: missing", at);
    if (!out.empty()) out += "\n\n";
    out += *text;
  }
  return out;
}

struct Reader {
  ResponsesRequest& out;
  std::set<std::string> call_ids;
  bool leading = true;  // no user/assistant turn yet: system and developer text joins the system prompt

  chat::Message& push(chat::Message m, std::string item_id = "") {
    out.history.messages.push_back(std::move(m));
    out.item_ids.push_back(std::move(item_id));
    return out.history.messages.back();
  }
  // The assistant turn an item continues: the last message when it is an assistant turn that has not
  // called tools yet (reasoning, text, then calls make one turn), else a new one.
  chat::Message& assistant(bool for_calls, const std::string& item_id) {
    auto& msgs = out.history.messages;
    leading = false;
    if (!msgs.empty() && msgs.back().role == Role::kAssistant && (for_calls || msgs.back().tool_calls.empty())) {
      if (out.item_ids.back().empty()) out.item_ids.back() = item_id;
      return msgs.back();
    }
    return push(session::text_message(Role::kAssistant, ""), item_id);
  }

  void message(const Json& item, const std::string& where) {
    const std::optional<std::string> role = string_field(item, "role", where);
    const Json* content = field(item, "content");
    if (!content) reject(where + ".content", "{}.content: missing", where);
    const std::string text = item_text(*content, where + ".content");
    const std::string id = string_field(item, "id", where).value_or("");
    if (role == "user") {
      leading = false;
      push(session::text_message(Role::kUser, text));
    } else if (role == "assistant") {
      chat::Message& m = assistant(false, id);
      if (!m.content.empty()) m.content += "\n\n";
      m.content += text;
    } else if (role == "system" || role == "developer") {
      auto& msgs = out.history.messages;
      if (leading && !msgs.empty()) {
        msgs.back().content += "\n\n" + text;
      } else if (leading) {
        push(session::text_message(Role::kSystem, text));
      } else {
        push(session::text_message(Role::kUser, text));  // where it stands, so the prompt only grows
      }
    } else {
      reject(where + ".role", "{}.role: expected user, assistant, system or developer", where);
    }
  }

  void call(const Json& item, const std::string& where, bool custom) {
    chat::ToolCall c;
    c.id = string_field(item, "call_id", where).value_or("");
    if (c.id.empty()) reject(where + ".call_id", "{}.call_id: missing", where);
    const std::optional<std::string> name = string_field(item, "name", where);
    if (!name) reject(where + ".name", "{}.name: missing", where);
    c.name = *name;
    if (auto ns = string_field(item, "namespace", where)) c.name = *ns + "." + *name;
    if (custom) {
      c.arguments = Json::object({{"input", string_field(item, "input", where).value_or("")}});
    } else {
      const std::string args = string_field(item, "arguments", where).value_or("{}");
      Json parsed = Json::parse(args, nullptr, /*allow_exceptions=*/false);
      if (!parsed.is_discarded() && !parsed.is_object())
        reject(where + ".arguments", "{}.arguments: expected a JSON object, got {}", where, parsed.type_name());
      c.arguments = parsed.is_discarded() ? Json(args) : std::move(parsed);
    }
    call_ids.insert(c.id);
    assistant(true, "").tool_calls.push_back(std::move(c));
  }

  void output(const Json& item, const std::string& where) {
    const std::string id = string_field(item, "call_id", where).value_or("");
    if (!call_ids.contains(id))
      reject(where + ".call_id", "{}.call_id: \"{}\" answers no function_call of an earlier item", where, id);
    chat::Message m;
    m.role = Role::kTool;
    m.tool_call_id = id;
    const Json* o = field(item, "output");
    m.content = o ? item_text(*o, where + ".output") : "";
    leading = false;
    push(std::move(m));
  }

  void reasoning(const Json& item, const std::string& where) {
    std::string text;
    if (const Json* content = field(item, "content")) text = item_text(*content, where + ".content");
    if (text.empty())
      if (const Json* summary = field(item, "summary")) text = item_text(*summary, where + ".summary");
    chat::Message& m = assistant(false, string_field(item, "id", where).value_or(""));
    m.reasoning_content += text;
  }

  void item(const Json& item, const std::string& where) {
    if (!item.is_object()) reject(where, "{}: expected an input item object", where);
    const std::string type = string_field(item, "type", where).value_or("message");
    if (type == "message") return message(item, where);
    if (type == "function_call") return call(item, where, false);
    if (type == "custom_tool_call") return call(item, where, true);
    if (type == "function_call_output" || type == "custom_tool_call_output") return output(item, where);
    if (type == "reasoning") return reasoning(item, where);
    if (std::find(kSkippedItems.begin(), kSkippedItems.end(), type) != kSkippedItems.end()) return;
    unsupported(where + ".type", "{}.type: \"{}\" items are not supported", where, type);
  }
};

// One tool of `tools` as the function objects the encoder renders (none for server-side tools).
void add_tool(const Json& tool, const std::string& where, const std::string& ns, ResponsesRequest& out,
              Json& functions) {
  if (!tool.is_object()) reject(where, "{}: expected a tool object", where);
  const std::string type = string_field(tool, "type", where).value_or("function");
  if (type == "namespace") {
    const std::string name = string_field(tool, "name", where).value_or("");
    const Json* inner = field(tool, "tools");
    if (name.empty() || !inner || !inner->is_array())
      reject(where, "{}: a namespace needs a name and an array of tools", where);
    for (size_t i = 0; i < inner->size(); ++i)
      add_tool((*inner)[i], fmt::format("{}.tools[{}]", where, i), name, out, functions);
    return;
  }
  if (type != "function" && type != "custom") return;  // web_search, local_shell, ...: server-side tools
  const std::optional<std::string> name = string_field(tool, "name", where);
  if (!name) reject(where + ".name", "{}.name: missing", where);
  const std::string full = ns.empty() ? *name : ns + "." + *name;
  if (!ns.empty()) out.namespaced[full] = {ns, *name};
  Json function = {{"name", full}};
  if (auto d = string_field(tool, "description", where)) function["description"] = *d;
  if (type == "custom") {
    // A freeform tool takes raw text (Codex's apply_patch): one string parameter carries it.
    out.custom_tools.insert(full);
    std::string about = "The raw input of the tool";
    if (const Json* format = field(tool, "format"); format && format->is_object() && format->contains("definition"))
      about += ", in this grammar:\n" + format->at("definition").dump();
    function["parameters"] = {{"type", "object"},
                              {"properties", {{"input", {{"type", "string"}, {"description", about}}}}},
                              {"required", {"input"}}};
  } else {
    const Json* parameters = field(tool, "parameters");
    if (parameters && !parameters->is_object()) reject(where + ".parameters", "{}.parameters: expected an object", where);
    function["parameters"] = parameters ? *parameters : Json{{"type", "object"}, {"properties", Json::object()}};
  }
  functions.push_back(std::move(function));
}

// tool_choice: auto (default) and required offer every tool, a named function or custom tool offers that
// one, none offers none; required and a named tool force a call (decoding constrained to it), one call only
// when parallel_tool_calls is false. allowed_tools and the like (no name) offer every tool, not forced.
Json offered_tools(const Json& body, ResponsesRequest& out) {
  Json functions = Json::array();
  if (const Json* tools = field(body, "tools")) {
    if (!tools->is_array()) reject("tools", "tools: expected an array");
    for (size_t i = 0; i < tools->size(); ++i) add_tool((*tools)[i], fmt::format("tools[{}]", i), "", out, functions);
  }
  const bool parallel = bool_field(body, "parallel_tool_calls", true);
  const Json* choice = field(body, "tool_choice");
  if (!choice || *choice == "auto") return functions;
  if (*choice == "required") {
    force_tool_call(functions, parallel, "tool_choice", out.turn);
    return functions;
  }
  if (*choice == "none") return Json::array();
  if (!choice->is_object()) reject("tool_choice", "tool_choice: expected auto, none, required or an object");
  const std::string name = string_field(*choice, "name", "tool_choice").value_or("");
  if (name.empty()) return functions;
  for (const Json& f : functions)
    if (f["name"] == name) {
      Json only = Json::array({f});
      force_tool_call(only, parallel, "tool_choice", out.turn);
      return only;
    }
  reject("tool_choice.name", "tool_choice.name: no tool named \"{}\"", name);
}

void read_reasoning(const Json& body, ResponsesRequest& out) {
  const Json* r = field(body, "reasoning");
  if (!r) return;
  if (!r->is_object()) reject("reasoning", "reasoning: expected an object");
  if (auto effort = string_field(*r, "effort", "reasoning")) {
    if (*effort == "none") {
      out.turn.render.thinking = false;
    } else {
      out.turn.render.thinking = true;
      out.turn.render.effort.level = v4_effort(*effort, "reasoning.effort");
    }
  }
  if (auto summary = string_field(*r, "summary", "reasoning")) {
    if (*summary != "auto" && *summary != "concise" && *summary != "detailed")
      reject("reasoning.summary", "reasoning.summary: expected auto, concise or detailed, got \"{}\"", *summary);
    out.summary = true;
  }
}

void refuse_unsupported(const Json& body) {
  if (bool_field(body, "background", false)) unsupported("background", "background: not supported");
  if (field(body, "conversation")) unsupported("conversation", "conversation: not supported (use previous_response_id)");
}

// Logprobs of the output text when `include` names "message.output_text.logprobs" or top_logprobs is
// given, with top_logprobs in [0, 20] alternatives.
void read_logprobs(const Json& body, session::TurnOptions& turn) {
  bool wanted = false;
  if (const Json* include = field(body, "include")) {
    if (!include->is_array()) reject("include", "include: expected an array of strings");
    for (size_t i = 0; i < include->size(); ++i) {
      if (!(*include)[i].is_string()) reject(fmt::format("include[{}]", i), "include[{}]: expected a string", i);
      wanted = wanted || (*include)[i] == "message.output_text.logprobs";
    }
  }
  const std::optional<int64_t> top = int_field(body, "top_logprobs");
  if (top && (*top < 0 || *top > 20)) reject("top_logprobs", "top_logprobs: must be in [0, 20], got {}", *top);
  turn.logprobs = wanted || top ? top.value_or(0) : -1;
}

}  // namespace

ResponsesRequest parse_responses_request(std::string_view text, const session::TurnOptions& defaults,
                                         const PreviousLookup& previous) {
  const Json body = parse_body(text, kKnownFields);
  ResponsesRequest out;
  out.turn = defaults;
  out.model = string_field(body, "model").value_or("");
  refuse_unsupported(body);
  read_logprobs(body, out.turn);
  out.stream = bool_field(body, "stream", false);
  out.store = bool_field(body, "store", true);
  read_sampling(body, out.turn.sampling);
  if (auto n = int_field(body, "max_output_tokens")) {
    if (*n < 1) reject("max_output_tokens", "max_output_tokens: must be >= 1, got {}", *n);
    out.turn.max_tokens = *n;
    out.max_tokens_given = true;
  }
  read_reasoning(body, out);

  Reader reader{out, {}};
  if (auto id = string_field(body, "previous_response_id")) {
    std::optional<chat::Conversation> stored = previous(*id);
    if (!stored)
      throw ApiError(404, fmt::format("Previous response with id '{}' not found", *id), "previous_response_id",
                     "previous_response_not_found");
    out.previous_response_id = *id;
    out.history = std::move(*stored);
    out.item_ids.assign(out.history.messages.size(), "");
    reader.leading = false;
    for (const chat::Message& m : out.history.messages)
      for (const chat::ToolCall& c : m.tool_calls) reader.call_ids.insert(c.id);
  }
  const Json* input = field(body, "input");
  if (!input) reject("input", "input: missing");
  if (input->is_string()) {
    reader.push(session::text_message(Role::kUser, input->get<std::string>()));
  } else if (input->is_array()) {
    for (size_t i = 0; i < input->size(); ++i) reader.item((*input)[i], fmt::format("input[{}]", i));
  } else {
    reject("input", "input: expected a string or an array of items");
  }
  if (out.history.messages.empty()) reject("input", "input: at least one item is required");

  const std::optional<std::string> instructions = string_field(body, "instructions");
  out.conversation = out.history;
  if (instructions && !instructions->empty()) {
    auto& msgs = out.conversation.messages;
    if (!msgs.empty() && msgs[0].role == Role::kSystem && out.previous_response_id.empty()) {
      msgs[0].content = *instructions + "\n\n" + msgs[0].content;
    } else {
      msgs.insert(msgs.begin(), session::text_message(Role::kSystem, *instructions));
      out.item_ids.insert(out.item_ids.begin(), "");
    }
  }
  if (const Json* format = field(body, "text"); format && !format->is_object()) reject("text", "text: expected an object");
  const Json tools = offered_tools(body, out);
  out.turn.tools = tools.empty() ? Json() : tools;
  out.echo = {{"instructions", instructions ? Json(*instructions) : Json()},
              {"tools", body.value("tools", Json::array())},
              {"tool_choice", body.value("tool_choice", Json("auto"))},
              {"parallel_tool_calls", body.value("parallel_tool_calls", true)},
              {"max_output_tokens", out.max_tokens_given ? Json(out.turn.max_tokens) : Json()},
              {"temperature", out.turn.sampling.temperature},
              {"top_p", out.turn.sampling.top_p},
              {"top_logprobs", std::max<int64_t>(out.turn.logprobs, 0)},
              {"reasoning", body.value("reasoning", Json::object())},
              {"store", out.store},
              {"text", body.value("text", Json{{"format", {{"type", "text"}}}})},
              {"truncation", body.value("truncation", Json("disabled"))},
              {"metadata", body.value("metadata", Json::object())},
              {"previous_response_id", out.previous_response_id.empty() ? Json() : Json(out.previous_response_id)}};
  return out;
}

}  // namespace baleen::server
