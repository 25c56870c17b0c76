#include "server/messages_request.h"

#include <array>
#include <set>

#include "server/request_fields.h"

namespace baleen::server {
namespace {

using chat::Json;

constexpr std::array<std::string_view, 10> kCountFields = {
    "model", "messages", "system", "tools", "tool_choice", "thinking", "output_config", "context_management",
    "mcp_servers", "cache_control"};
// Messages adds generation fields. metadata, service_tier, context_management and cache_control carry
// nothing a local engine acts on; they are accepted and ignored (DeepSeek's Anthropic endpoint does too).
constexpr std::array<std::string_view, 20> kMessagesFields = {
    "model",         "messages",      "system",         "tools",      "tool_choice",
    "thinking",      "output_config", "context_management", "mcp_servers", "max_tokens",
    "stop_sequences", "stream",       "temperature",    "top_p",      "top_k",
    "metadata",      "service_tier",  "cache_control",  "container",  "inference_geo"};

constexpr std::string_view kBillingHeader = "x-anthropic-billing-header:";

// The type of a content block, which every block must have.
std::string block_type(const Json& block, const std::string& where) {
  if (!block.is_object()) reject(where, "{}: expected a content block object, got {}", where, block.type_name());
  const std::optional<std::string> type = string_field(block, "type", where);
  if (!type) reject(where + ".type", "{}.type: missing", where);
  return *type;
}

std::string block_text(const Json& block, const std::string& where) {
  const std::optional<std::string> text = string_field(block, "text", where);
  if (!text) reject(where + ".text", "{}.text: missing", where);
  return *text;
}

[[noreturn]] void refuse_media(const std::string& type, const std::string& where) {
  unsupported(where, "{}: {} content is not supported: the served model reads text only", where, type);
}

// Text blocks (a string is one block) joined by "\n\n", as the encoder joins a user's blocks. Billing-header
// blocks are dropped when `drop_billing`.
std::string text_of(const Json& content, const std::string& where, bool drop_billing = false) {
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) reject(where, "{}: expected a string or an array of content blocks", where);
  std::string out;
  bool first = true;
  for (size_t i = 0; i < content.size(); ++i) {
    const std::string at = fmt::format("{}[{}]", where, i);
    const std::string type = block_type(content[i], at);
    if (type == "image" || type == "document") refuse_media(type, at);
    if (type != "text") unsupported(at + ".type", "{}.type: expected a text block, got \"{}\"", at, type);
    const std::string text = block_text(content[i], at);
    if (drop_billing && text.starts_with(kBillingHeader)) continue;
    if (!first) out += "\n\n";
    out += text;
    first = false;
  }
  return out;
}

struct Reader {
  MessagesRequest& out;
  std::set<std::string> call_ids;  // tool_use ids seen so far

  void push(chat::Message m, std::string signature = "") {
    out.conversation.messages.push_back(std::move(m));
    out.signatures.push_back(std::move(signature));
  }

  void user(const Json& content, const std::string& where) {
    if (content.is_string()) return push(session::text_message(chat::Role::kUser, content.get<std::string>()));
    if (!content.is_array()) reject(where, "{}: expected a string or an array of content blocks", where);
    // tool_result blocks become tool messages; the text around them one user message after them (the
    // encoder folds both into one user turn).
    chat::Message text = session::text_message(chat::Role::kUser, "");
    bool has_text = false;
    for (size_t i = 0; i < content.size(); ++i) {
      const std::string at = fmt::format("{}[{}]", where, i);
      const std::string type = block_type(content[i], at);
      if (type == "tool_result") {
        tool_result(content[i], at);
      } else if (type == "text") {
        if (has_text) text.content += "\n\n";
        text.content += block_text(content[i], at);
        has_text = true;
      } else if (type == "image" || type == "document") {
        refuse_media(type, at);
      } else {
        unsupported(at + ".type", "{}.type: \"{}\" blocks are not supported in a user message", at, type);
      }
    }
    if (has_text) push(std::move(text));
  }

  void tool_result(const Json& block, const std::string& where) {
    const std::optional<std::string> id = string_field(block, "tool_use_id", where);
    if (!id) reject(where + ".tool_use_id", "{}.tool_use_id: missing", where);
    if (!call_ids.contains(*id))
      reject(where + ".tool_use_id", "{}.tool_use_id: \"{}\" answers no tool_use block of an earlier assistant message",
             where, *id);
    chat::Message m;
    m.role = chat::Role::kTool;
    m.tool_call_id = *id;
    if (const Json* c = field(block, "content")) m.content = text_of(*c, where + ".content");
    // The model must see that the tool failed; V4's template has no error flag of its own.
    if (bool_field(block, "is_error", false, where)) m.content = "Error: " + m.content;
    push(std::move(m));
  }

  void assistant(const Json& content, const std::string& where) {
    chat::Message m = session::text_message(chat::Role::kAssistant, "");
    std::string signature;
    if (content.is_string()) {
      m.content = content.get<std::string>();
      return push(std::move(m));
    }
    if (!content.is_array()) reject(where, "{}: expected a string or an array of content blocks", where);
    for (size_t i = 0; i < content.size(); ++i) {
      const std::string at = fmt::format("{}[{}]", where, i);
      const Json& block = content[i];
      const std::string type = block_type(block, at);
      if (type == "text") {
        if (!m.content.empty()) m.content += "\n\n";
        m.content += block_text(block, at);
      } else if (type == "thinking") {
        m.reasoning_content += string_field(block, "thinking", at).value_or("");
        signature = string_field(block, "signature", at).value_or(signature);
      } else if (type == "redacted_thinking") {
        // Opaque to anyone but Anthropic: there is no text to render.
      } else if (type == "tool_use") {
        chat::ToolCall call;
        call.id = string_field(block, "id", at).value_or("");
        if (call.id.empty()) reject(at + ".id", "{}.id: missing", at);
        const std::optional<std::string> name = string_field(block, "name", at);
        if (!name) reject(at + ".name", "{}.name: missing", at);
        call.name = *name;
        const Json* input = field(block, "input");
        if (input && !input->is_object()) reject(at + ".input", "{}.input: expected an object", at);
        call.arguments = input ? *input : Json::object();
        call_ids.insert(call.id);
        m.tool_calls.push_back(std::move(call));
      } else {
        unsupported(at + ".type", "{}.type: \"{}\" blocks are not supported in an assistant message", at, type);
      }
    }
    push(std::move(m), std::move(signature));
  }
};

// Anthropic tools {name, description, input_schema} as the function objects the encoder renders.
Json tool_functions(const Json& tools) {
  if (!tools.is_array()) reject("tools", "tools: expected an array");
  Json out = Json::array();
  for (size_t i = 0; i < tools.size(); ++i) {
    const std::string at = fmt::format("tools[{}]", i);
    const Json& tool = tools[i];
    if (!tool.is_object()) reject(at, "{}: expected a tool object", at);
    if (const std::optional<std::string> type = string_field(tool, "type", at); type && *type != "custom")
      unsupported(at + ".type", "{}.type: server tool \"{}\" is not supported (only client tools with input_schema)",
                  at, *type);
    const std::optional<std::string> name = string_field(tool, "name", at);
    if (!name) reject(at + ".name", "{}.name: missing", at);
    Json function = {{"name", *name}};
    if (auto d = string_field(tool, "description", at)) function["description"] = *d;
    const Json* schema = field(tool, "input_schema");
    if (!schema || !schema->is_object()) reject(at + ".input_schema", "{}.input_schema: expected an object", at);
    function["parameters"] = *schema;
    out.push_back(std::move(function));
  }
  return out;
}

// tool_choice: auto (default) and any offer every tool, tool offers the named one, none offers none; any
// and tool force a call (decoding constrained to it), disable_parallel_tool_use to one call.
Json offered_tools(const Json& body, session::TurnOptions& turn) {
  const Json* tools = field(body, "tools");
  Json functions = tools ? tool_functions(*tools) : Json();
  const Json* choice = field(body, "tool_choice");
  if (!choice) return functions;
  if (!choice->is_object()) reject("tool_choice", "tool_choice: expected an object");
  const std::optional<std::string> type = string_field(*choice, "type", "tool_choice");
  const bool parallel = !bool_field(*choice, "disable_parallel_tool_use", false, "tool_choice");
  if (type == "auto") return functions;
  if (type == "none") return Json();
  if (type == "any") {
    force_tool_call(functions, parallel, "tool_choice", turn);
    return functions;
  }
  if (type != "tool")
    reject("tool_choice.type", "tool_choice.type: expected auto, any, tool or none, got {}", choice->dump());
  const std::optional<std::string> name = string_field(*choice, "name", "tool_choice");
  if (!name) reject("tool_choice.name", "tool_choice.name: missing");
  for (const Json& f : functions.is_array() ? functions : Json::array())
    if (f["name"] == *name) {
      Json only = Json::array({f});
      force_tool_call(only, parallel, "tool_choice", turn);
      return only;
    }
  reject("tool_choice.name", "tool_choice.name: no tool named \"{}\"", *name);
}

// thinking {type: enabled (budget_tokens) | adaptive | disabled} and output_config.effort onto V4's
// thinking mode and effort; without either the server's default holds.
void read_thinking(const Json& body, chat::RenderOptions& render) {
  if (const Json* t = field(body, "thinking")) {
    if (!t->is_object()) reject("thinking", "thinking: expected an object");
    const std::optional<std::string> type = string_field(*t, "type", "thinking");
    if (type == "enabled" || type == "adaptive") {
      render.thinking = true;
      // Claude's budget steps onto V4's levels: a deep budget asks for the most effort.
      if (auto budget = int_field(*t, "budget_tokens", "thinking"))
        render.effort.level = *budget >= 32000 ? "max" : *budget >= 8000 ? "high" : "low";
    } else if (type == "disabled") {
      render.thinking = false;
    } else {
      reject("thinking.type", "thinking.type: expected enabled, adaptive or disabled, got {}", t->dump());
    }
  }
  if (const Json* config = field(body, "output_config")) {
    if (!config->is_object()) reject("output_config", "output_config: expected an object");
    if (auto effort = string_field(*config, "effort", "output_config"))
      render.effort.level = v4_effort(*effort, "output_config.effort");
  }
}

void read_generation(const Json& body, MessagesRequest& out) {
  const std::optional<int64_t> max_tokens = int_field(body, "max_tokens");
  if (!max_tokens) reject("max_tokens", "max_tokens: missing (it is required)");
  if (*max_tokens < 1) reject("max_tokens", "max_tokens: must be >= 1, got {}", *max_tokens);
  out.turn.max_tokens = *max_tokens;
  out.stream = bool_field(body, "stream", false);
  read_sampling(body, out.turn.sampling);
  if (const Json* stops = field(body, "stop_sequences")) {
    if (!stops->is_array()) reject("stop_sequences", "stop_sequences: expected an array of strings");
    out.turn.stop_sequences.clear();
    for (size_t i = 0; i < stops->size(); ++i) {
      if (!(*stops)[i].is_string())
        reject(fmt::format("stop_sequences[{}]", i), "stop_sequences[{}]: expected a string", i);
      out.turn.stop_sequences.push_back((*stops)[i].get<std::string>());
    }
  }
  if (const Json* metadata = field(body, "metadata"); metadata && !metadata->is_object())
    reject("metadata", "metadata: expected an object");
}

}  // namespace

MessagesRequest parse_messages_request(std::string_view text, const session::TurnOptions& defaults,
                                       bool count_tokens) {
  const Json body = count_tokens ? parse_body(text, kCountFields) : parse_body(text, kMessagesFields);
  MessagesRequest out;
  out.turn = defaults;
  out.model = string_field(body, "model").value_or("");
  if (!count_tokens) read_generation(body, out);
  if (const Json* servers = field(body, "mcp_servers"); servers && !(servers->is_array() && servers->empty()))
    unsupported("mcp_servers", "mcp_servers: MCP connectors are not supported");
  read_thinking(body, out.turn.render);

  Reader reader{out, {}};
  if (const Json* system = field(body, "system")) {
    std::string text = text_of(*system, "system", /*drop_billing=*/true);
    if (!text.empty()) reader.push(session::text_message(chat::Role::kSystem, std::move(text)));
  }
  const Json* messages = field(body, "messages");
  if (!messages || !messages->is_array()) reject("messages", "messages: expected an array of messages");
  if (messages->empty()) reject("messages", "messages: at least one message is required");
  for (size_t i = 0; i < messages->size(); ++i) {
    const std::string at = fmt::format("messages[{}]", i);
    const Json& m = (*messages)[i];
    if (!m.is_object()) reject(at, "{}: expected a message object", at);
    const std::optional<std::string> role = string_field(m, "role", at);
    const Json* content = field(m, "content");
    if (!content) reject(at + ".content", "{}.content: missing", at);
    if (role == "user") {
      reader.user(*content, at + ".content");
    } else if (role == "assistant") {
      reader.assistant(*content, at + ".content");
    } else if (role == "system") {
      // Claude Code puts system messages inside `messages`. A leading one joins the system prompt; a later
      // one is a user turn where it stands, so the rendered prompt only grows at its end.
      std::string text = text_of(*content, at + ".content", /*drop_billing=*/true);
      auto& msgs = out.conversation.messages;
      if (msgs.size() == 1 && msgs[0].role == chat::Role::kSystem && i == 0) {
        msgs[0].content += "\n\n" + text;
      } else if (msgs.empty()) {
        reader.push(session::text_message(chat::Role::kSystem, std::move(text)));
      } else {
        reader.push(session::text_message(chat::Role::kUser, std::move(text)));
      }
    } else {
      reject(at + ".role", "{}.role: expected user, assistant or system, got {}", at,
             role ? *role : std::string("nothing"));
    }
  }
  const Json tools = offered_tools(body, out.turn);
  // The turn runner attaches the tools to the system message when it renders.
  out.turn.tools = tools.is_array() && !tools.empty() ? tools : Json();
  return out;
}

}  // namespace baleen::server
