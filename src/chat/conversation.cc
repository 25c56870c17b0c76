#include "chat/conversation.h"

#include <set>

#include "core/error.h"

namespace baleen::chat {
namespace {

Role parse_role(const Json& value, const std::string& where) {
  check(value.is_string(), "{}.role: expected a string", where);
  const auto& s = value.get_ref<const std::string&>();
  if (s == "system") return Role::kSystem;
  if (s == "developer") return Role::kDeveloper;
  if (s == "user") return Role::kUser;
  if (s == "assistant") return Role::kAssistant;
  if (s == "tool") return Role::kTool;
  fail("{}.role: unknown role \"{}\" (expected system, developer, user, assistant or tool)", where, s);
}

// A string, null (""), or an array of {"type": "text", "text": ...} blocks joined by "\n\n" (the encoder
// joins a user's or a tool result's blocks that way).
std::string parse_text(const Json& value, const std::string& what) {
  if (value.is_null()) return "";
  if (value.is_string()) return value.get<std::string>();
  check(value.is_array(), "{}: expected a string, null or an array of text blocks", what);
  std::string out;
  for (size_t i = 0; i < value.size(); ++i) {
    const Json& block = value[i];
    const std::string where = fmt::format("{}[{}]", what, i);
    check(block.is_object(), "{}: expected a text block object", where);
    const auto type = block.find("type");
    check(type != block.end() && *type == "text", "{}.type: only \"text\" blocks are supported", where);
    const auto text = block.find("text");
    check(text != block.end() && text->is_string(), "{}.text: expected a string", where);
    if (i > 0) out += "\n\n";
    out += text->get<std::string>();
  }
  return out;
}

std::string optional_string(const Json& object, const char* key, const std::string& where) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return "";
  check(it->is_string(), "{}.{}: expected a string", where, key);
  return it->get<std::string>();
}

ToolCall parse_tool_call(const Json& value, const std::string& where) {
  check(value.is_object(), "{}: expected a tool call object", where);
  ToolCall call;
  call.id = optional_string(value, "id", where);
  const auto fn = value.find("function");
  check(fn != value.end() && fn->is_object(), "{}.function: expected an object", where);
  const auto name = fn->find("name");
  check(name != fn->end() && name->is_string(), "{}.function.name: expected a string", where);
  call.name = name->get<std::string>();
  const auto args = fn->find("arguments");
  check(args != fn->end(), "{}.function.arguments: missing", where);
  if (args->is_object()) {
    call.arguments = *args;
  } else {
    check(args->is_string(), "{}.function.arguments: expected a JSON string or an object", where);
    // Clients send arguments as JSON text; text that is not JSON is kept raw (the v4 encoder then
    // renders it as one parameter named "arguments").
    const auto& text = args->get_ref<const std::string&>();
    Json parsed = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) {
      call.arguments = text;
    } else {
      check(parsed.is_object(), "{}.function.arguments: expected a JSON object, got {}", where,
            parsed.type_name());
      call.arguments = std::move(parsed);
    }
  }
  return call;
}

Message parse_message(const Json& value, const std::string& where) {
  check(value.is_object(), "{}: expected a message object", where);
  const auto role = value.find("role");
  check(role != value.end(), "{}.role: missing", where);
  Message m;
  m.role = parse_role(*role, where);
  if (const auto c = value.find("content"); c != value.end()) m.content = parse_text(*c, where + ".content");
  m.reasoning_content = optional_string(value, "reasoning_content", where);
  if (m.reasoning_content.empty()) m.reasoning_content = optional_string(value, "reasoning", where);
  if (const auto calls = value.find("tool_calls"); calls != value.end() && !calls->is_null()) {
    check(calls->is_array(), "{}.tool_calls: expected an array", where);
    check(m.role == Role::kAssistant, "{}.tool_calls: only assistant messages carry tool calls", where);
    for (size_t i = 0; i < calls->size(); ++i)
      m.tool_calls.push_back(parse_tool_call((*calls)[i], fmt::format("{}.tool_calls[{}]", where, i)));
  }
  m.tool_call_id = optional_string(value, "tool_call_id", where);
  if (const auto tools = value.find("tools"); tools != value.end() && !tools->is_null()) {
    check(m.role == Role::kSystem || m.role == Role::kDeveloper,
          "{}.tools: only system and developer messages carry tools", where);
    m.tools = tool_functions_from_json(*tools, where + ".tools");
  }
  if (const auto rf = value.find("response_format"); rf != value.end() && !rf->is_null()) {
    check(rf->is_object(), "{}.response_format: expected an object", where);
    m.response_format = *rf;
  }
  return m;
}

}  // namespace

std::string_view role_name(Role role) {
  switch (role) {
    case Role::kSystem:
      return "system";
    case Role::kDeveloper:
      return "developer";
    case Role::kUser:
      return "user";
    case Role::kAssistant:
      return "assistant";
    case Role::kTool:
      return "tool";
  }
  return "?";
}

Json tool_functions_from_json(const Json& tools, std::string_view what) {
  check(tools.is_array(), "{}: expected an array of tools", what);
  Json out = Json::array();
  for (size_t i = 0; i < tools.size(); ++i) {
    const Json& tool = tools[i];
    check(tool.is_object(), "{}[{}]: expected a tool object", what, i);
    const auto fn = tool.find("function");
    const Json& function = fn != tool.end() ? *fn : tool;
    check(function.is_object(), "{}[{}].function: expected an object", what, i);
    const auto name = function.find("name");
    check(name != function.end() && name->is_string(), "{}[{}].function.name: expected a string", what, i);
    out.push_back(function);
  }
  return out;
}

Conversation conversation_from_json(const Json& messages) {
  check(messages.is_array(), "messages: expected an array");
  Conversation conv;
  std::set<std::string> call_ids;
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string where = fmt::format("messages[{}]", i);
    Message m = parse_message(messages[i], where);
    if (m.role == Role::kDeveloper)
      check(!m.content.empty(), "{}.content: a developer message needs content", where);
    if (m.role == Role::kTool) {
      check(!m.tool_call_id.empty(), "{}.tool_call_id: a tool message needs the id of its call", where);
      check(call_ids.contains(m.tool_call_id),
            "{}.tool_call_id: \"{}\" answers no tool call of an earlier assistant message", where,
            m.tool_call_id);
    }
    for (const ToolCall& call : m.tool_calls)
      if (!call.id.empty()) call_ids.insert(call.id);
    conv.messages.push_back(std::move(m));
  }
  return conv;
}

std::vector<std::string> parameter_types(const Json& function, std::string_view key) {
  if (!function.is_object()) return {};
  const auto params = function.find("parameters");
  if (params == function.end() || !params->is_object()) return {};
  const auto props = params->find("properties");
  if (props == params->end() || !props->is_object()) return {};
  const auto prop = props->find(std::string(key));
  if (prop == props->end() || !prop->is_object()) return {};
  const auto type = prop->find("type");
  if (type == prop->end()) return {};
  std::vector<std::string> types;
  if (type->is_string()) types.push_back(type->get<std::string>());
  if (type->is_array())
    for (const auto& t : *type)
      if (t.is_string()) types.push_back(t.get<std::string>());
  return types;
}

bool has_parameter(const Json& function, std::string_view key) {
  if (!function.is_object()) return false;
  const auto params = function.find("parameters");
  if (params == function.end() || !params->is_object()) return false;
  const auto props = params->find("properties");
  return props != params->end() && props->is_object() && props->contains(std::string(key));
}

}  // namespace baleen::chat
