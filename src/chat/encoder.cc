#include "chat/encoder.h"

#include <algorithm>
#include <map>

#include "chat/prompt_texts.h"
#include "core/error.h"

namespace baleen::chat {
namespace {

// A user turn's blocks after tool results are folded in (encoder: merge_tool_messages).
struct Block {
  bool tool_result = false;
  std::string text;
  std::string tool_call_id;
};

// One message after preprocessing; `source` is null for a merged user turn.
struct Turn {
  Role role = Role::kUser;
  const Message* source = nullptr;
  std::vector<Block> blocks;  // user turns only
  bool reasoning_dropped = false;
};

// merge_tool_messages: a tool result or user text joins the user turn before it, else starts one.
std::vector<Turn> merge_tool_messages(const Conversation& conv) {
  std::vector<Turn> turns;
  for (const Message& m : conv.messages) {
    if (m.role == Role::kTool || m.role == Role::kUser) {
      if (turns.empty() || turns.back().role != Role::kUser) turns.emplace_back().role = Role::kUser;
      turns.back().blocks.push_back(Block{m.role == Role::kTool, m.content, m.tool_call_id});
    } else {
      Turn& t = turns.emplace_back();
      t.role = m.role;
      t.source = &m;
    }
  }
  return turns;
}

// sort_tool_results_by_call_order: within a user turn, tool results take the order of the calls of the
// latest assistant turn with calls (a stable sort; an unknown id sorts as position 0); text blocks stay.
void sort_tool_results_by_call_order(std::vector<Turn>& turns) {
  std::map<std::string, size_t> order;
  for (Turn& turn : turns) {
    if (turn.role == Role::kAssistant && !turn.source->tool_calls.empty()) {
      order.clear();
      for (size_t i = 0; i < turn.source->tool_calls.size(); ++i)
        if (!turn.source->tool_calls[i].id.empty()) order.emplace(turn.source->tool_calls[i].id, i);
    }
    if (turn.role != Role::kUser || order.empty()) continue;
    std::vector<Block> results;
    for (const Block& b : turn.blocks)
      if (b.tool_result) results.push_back(b);
    if (results.size() < 2) continue;
    const auto key = [&](const Block& b) {
      const auto it = order.find(b.tool_call_id);
      return it == order.end() ? size_t{0} : it->second;
    };
    std::stable_sort(results.begin(), results.end(),
                     [&](const Block& a, const Block& b) { return key(a) < key(b); });
    size_t next = 0;
    for (Block& b : turn.blocks)
      if (b.tool_result) b = results[next++];
  }
}

// find_last_user_index; in v4.1 a system message after the first counts as a user turn.
int last_user_index(const std::vector<Turn>& turns, Dialect dialect) {
  for (int i = static_cast<int>(turns.size()) - 1; i >= 0; --i) {
    const Role r = turns[i].role;
    if (r == Role::kUser || r == Role::kDeveloper) return i;
    if (dialect == Dialect::kV41 && r == Role::kSystem && i > 0) return i;
  }
  return -1;
}

// _drop_thinking_messages: before the last user turn, assistant turns lose their reasoning and developer
// turns are dropped.
std::vector<Turn> drop_thinking_messages(std::vector<Turn> turns, Dialect dialect) {
  const int last = last_user_index(turns, dialect);
  std::vector<Turn> kept;
  for (int i = 0; i < static_cast<int>(turns.size()); ++i) {
    Turn& t = turns[i];
    if (t.role == Role::kUser || t.role == Role::kSystem || i >= last) {
      kept.push_back(std::move(t));
    } else if (t.role == Role::kAssistant) {
      t.reasoning_dropped = true;
      kept.push_back(std::move(t));
    }
  }
  return kept;
}

std::string effort_text(const RenderOptions& o) {
  const ReasoningEffort& e = o.effort;
  switch (o.dialect) {
    case Dialect::kV4:
      // The April encoder accepts 'max', 'high' and None and renders only 'max'.
      check(e.budget == 0 && (e.level.empty() || e.level == "low" || e.level == "high" || e.level == "max"),
            "reasoning_effort: v4 accepts \"low\", \"high\", \"max\" or null, got \"{}\"", e.level);
      return o.thinking && e.level == "max" ? std::string(text::kEffortAbsoluteMaximum) : "";
    case Dialect::kV4_0731:
      check(e.budget == 0 && (e.level.empty() || e.level == "low" || e.level == "high" || e.level == "max"),
            "reasoning_effort: v4-0731 accepts \"low\", \"high\", \"max\" or null, got \"{}\"", e.level);
      if (!o.thinking) return "";
      if (e.level == "high") return std::string(text::kEffortAbsoluteMaximum);
      if (e.level == "max") return std::string(text::kEffortBeyondMaximum);
      return "";
    case Dialect::kV41: {
      int budget = e.budget;
      if (budget == 0) {
        static const std::map<std::string, int> kLevels{
            {"low", 25}, {"high", 50}, {"xhigh", 75}, {"max", 100}};
        const auto it = kLevels.find(e.level.empty() ? "high" : e.level);  // DEFAULT_REASONING_EFFORT
        check(it != kLevels.end(),
              "reasoning_effort: v4.1 accepts 1..100, \"low\", \"high\", \"xhigh\" or \"max\", got \"{}\"",
              e.level);
        budget = it->second;
      }
      check(budget >= 1 && budget <= 100, "reasoning_effort: v4.1 budget must be in [1, 100], got {}",
            budget);
      if (!o.thinking) return "";
      return fmt::format("{}{}{}", text::kEffortBudgetPrefix, budget, text::kEffortBudgetSuffix);
    }
  }
  return "";
}

std::string render_tools(const Json& functions, Dialect dialect) {
  std::string out(dialect == Dialect::kV41 ? text::kToolsHeaderV41 : text::kToolsHeaderV4);
  for (size_t i = 0; i < functions.size(); ++i) {
    if (i > 0) out += '\n';
    out += python_json_dumps(functions[i]);
  }
  out += text::kToolsFooter;
  return out;
}

// The "\n\n" + tools block and "\n\n" + response format block of a system or developer message.
std::string render_attachments(const Message& m, Dialect dialect) {
  std::string out;
  if (m.tools.is_array() && !m.tools.empty()) out += "\n\n" + render_tools(m.tools, dialect);
  if (m.response_format.is_object() && !m.response_format.empty())
    out += "\n\n" + std::string(text::kResponseFormatHeader) + python_json_dumps(m.response_format);
  return out;
}

std::string render_user(const Turn& t) {
  std::string out(text::kUser);
  for (size_t i = 0; i < t.blocks.size(); ++i) {
    if (i > 0) out += "\n\n";
    const Block& b = t.blocks[i];
    if (b.tool_result) {
      out += text::kToolResultOpen;
      out += b.text;
      out += text::kToolResultClose;
    } else {
      out += b.text;
    }
  }
  return out;
}

struct RenderState {
  const std::vector<Turn>& turns;
  const RenderOptions& options;
  bool drop_thinking;  // effective: false when any message has tools
  int last_user;
};

std::string render_assistant(const RenderState& s, size_t index) {
  const Message& m = *s.turns[index].source;
  const bool reasoning_rendered =
      s.options.thinking && (!s.drop_thinking || static_cast<int>(index) > s.last_user);
  if (!m.sampled.empty() && (!s.options.thinking || (reasoning_rendered && !s.turns[index].reasoning_dropped)))
    return m.sampled + std::string(text::kEos);
  std::string out;
  if (reasoning_rendered) {
    if (!s.turns[index].reasoning_dropped) out += m.reasoning_content;
    out += text::kThinkEnd;
  }
  out += m.content;
  out += render_tool_calls(m.tool_calls, s.options.dialect);
  out += text::kEos;
  return out;
}

// render_message: one turn, then the generation suffix when the next turn is the assistant's (or none).
std::string render_turn(const RenderState& s, size_t index, const std::string& effort) {
  const Turn& t = s.turns[index];
  const Dialect dialect = s.options.dialect;
  std::string out;
  if (index == 0) {
    // v4.1 hosts the effort text (and a first system message) behind <｜System｜>.
    if (dialect == Dialect::kV41 && (!effort.empty() || t.role == Role::kSystem)) out += text::kSystem;
    out += effort;
  }
  switch (t.role) {
    case Role::kSystem:
      if (dialect == Dialect::kV41 && index > 0) out += text::kSystem;
      out += t.source->content + render_attachments(*t.source, dialect);
      break;
    case Role::kDeveloper:
      out += std::string(text::kUser) + t.source->content + render_attachments(*t.source, dialect);
      break;
    case Role::kUser:
      out += render_user(t);
      break;
    case Role::kAssistant:
      out += render_assistant(s, index);
      break;
    case Role::kTool:
      fail("render_prompt: tool messages must be merged into user turns");
  }
  const bool has_next = index + 1 < s.turns.size();
  if (has_next && s.turns[index + 1].role != Role::kAssistant) return out;
  const bool user_like = t.role == Role::kUser || t.role == Role::kDeveloper ||
                         (dialect == Dialect::kV41 && t.role == Role::kSystem && index > 0);
  if (!user_like) return out;
  out += text::kAssistant;
  const bool think = s.options.thinking && (!s.drop_thinking || static_cast<int>(index) >= s.last_user);
  out += think ? text::kThinkStart : text::kThinkEnd;
  return out;
}

std::string render_parameter(const DsmlTags& tags, const std::string& key, const Json& value) {
  const bool is_string = value.is_string();
  return fmt::format("{} name=\"{}\" string=\"{}\">{}{}", tags.param_open, key, is_string ? "true" : "false",
                     is_string ? value.get_ref<const std::string&>() : python_json_dumps(value),
                     tags.param_close);
}

}  // namespace

std::string render_tool_calls(const std::vector<ToolCall>& calls, Dialect dialect) {
  if (calls.empty()) return "";
  const DsmlTags& tags = dsml_tags(dialect);
  std::string out = "\n\n" + tags.block_open + "\n";
  for (size_t i = 0; i < calls.size(); ++i) {
    const ToolCall& call = calls[i];
    Json arguments = call.arguments;
    if (arguments.is_string()) {
      // encode_arguments_to_dsml: the v4 encoders fall back to one parameter named "arguments" for text
      // that is not JSON; v4.1 rejects it.
      check(dialect != Dialect::kV41, "tool call \"{}\": v4.1 needs arguments that are a JSON object",
            call.name);
      arguments = Json::object({{"arguments", call.arguments}});
    }
    check(arguments.is_object(), "tool call \"{}\": arguments must be a JSON object", call.name);
    if (i > 0) out += "\n";
    out += fmt::format("{} name=\"{}\">\n", tags.invoke_open, call.name);
    bool first = true;
    for (const auto& [key, value] : arguments.items()) {
      if (!first) out += "\n";
      first = false;
      out += render_parameter(tags, key, value);
    }
    out += "\n" + tags.invoke_close;
  }
  out += "\n" + tags.block_close;
  return out;
}

std::string render_prompt(const Conversation& conversation, const RenderOptions& options) {
  const std::string effort = effort_text(options);  // validates the effort even in chat mode
  std::vector<Turn> turns = merge_tool_messages(conversation);
  sort_tool_results_by_call_order(turns);
  const bool any_tools = std::any_of(conversation.messages.begin(), conversation.messages.end(),
                                     [](const Message& m) { return m.tools.is_array() && !m.tools.empty(); });
  const bool drop = options.drop_thinking && !any_tools;
  if (options.thinking && drop) turns = drop_thinking_messages(std::move(turns), options.dialect);
  const RenderState state{turns, options, drop, last_user_index(turns, options.dialect)};
  std::string prompt(text::kBos);
  for (size_t i = 0; i < turns.size(); ++i) prompt += render_turn(state, i, effort);
  return prompt;
}

void attach_request_tools(Conversation& conversation, const Json& tool_functions,
                          const Json& response_format) {
  const bool has_tools = tool_functions.is_array() && !tool_functions.empty();
  const bool has_format = response_format.is_object() && !response_format.empty();
  if (!has_tools && !has_format) return;
  auto& msgs = conversation.messages;
  if (msgs.empty() || (msgs[0].role != Role::kSystem && msgs[0].role != Role::kDeveloper)) {
    Message system;
    system.role = Role::kSystem;
    msgs.insert(msgs.begin(), std::move(system));
  }
  if (has_tools) msgs[0].tools = tool_functions;
  if (has_format) msgs[0].response_format = response_format;
}

}  // namespace baleen::chat
