#include "agent/session/agent_loop.h"

#include <chrono>

#include "agent/trajectory/crc32c.h"
#include "core/error.h"

namespace baleen::agent {
namespace {

std::string hash_tokens(const std::vector<int32_t>& tokens) {
  const std::string_view bytes(reinterpret_cast<const char*>(tokens.data()), tokens.size() * sizeof(int32_t));
  return fmt::format("crc32c:{:08x}", crc32c(bytes));
}

ModelStep to_model_step(const TurnResult& turn) {
  ModelStep step;
  step.output = turn.raw_text;
  for (const chat::ToolCall& call : turn.tool_calls) {
    step.tool_calls.push_back({call.name, nlohmann::json::parse(call.arguments.dump())});
  }
  return step;
}

// The assistant message of a step's raw output: the same parse as the streamed one, so live and replayed
// steps build the same history.
chat::Message assistant_message(const ModelStep& step, const TurnOptions& turn, int64_t index) {
  const chat::ParsedOutput parsed =
      chat::parse_output(step.output, {.starts_in_reasoning = turn.render.thinking,
                                       .tools = turn.tools,
                                       .id_seed = static_cast<uint64_t>(index)});
  chat::Message m = text_message(chat::Role::kAssistant, parsed.content);
  m.reasoning_content = parsed.reasoning;
  m.tool_calls = parsed.tool_calls;
  return m;
}

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

std::string_view agent_end_name(AgentEnd end) {
  switch (end) {
    case AgentEnd::kAnswered:
      return "answered";
    case AgentEnd::kStepLimit:
      return "step limit";
    case AgentEnd::kInterrupted:
      return "interrupted";
  }
  return "answered";
}

AgentOutcome run_agent(ChatSession& session, Sandbox& sandbox, TrajectoryLog& log,
                       const AgentOptions& options) {
  check(options.max_steps > 0, "max steps must be > 0, got {}", options.max_steps);
  TurnOptions turn = options.turn;
  if (turn.tools.is_null()) turn.tools = workspace_tool_schemas();
  turn.stop = options.stop;
  AgentOutcome out;
  if (!options.system.empty())
    out.conversation.messages.push_back(text_message(chat::Role::kSystem, options.system));
  out.conversation.messages.push_back(text_message(chat::Role::kUser, options.task));
  TrajectorySession trajectory(log);
  auto stopped = [&] { return options.stop && options.stop->load(); };
  for (int64_t step = 0;; ++step) {
    if (step >= options.max_steps) {
      out.end = AgentEnd::kStepLimit;
      break;
    }
    if (stopped()) {
      out.end = AgentEnd::kInterrupted;
      break;
    }
    turn.id_seed = static_cast<uint64_t>(step);
    const std::vector<int32_t> prompt = session.prompt_tokens(out.conversation, turn);
    ModelStep logged;
    try {
      logged = trajectory.model_step(step, static_cast<int64_t>(prompt.size()), hash_tokens(prompt),
                                     [&] { return to_model_step(session.generate(prompt, turn)); });
    } catch (const TurnInterrupted&) {
      out.end = AgentEnd::kInterrupted;
      break;
    }
    ++out.steps;
    chat::Message assistant = assistant_message(logged, turn, step);
    out.conversation.messages.push_back(assistant);
    if (options.on_model_step) options.on_model_step(step, assistant);
    if (assistant.tool_calls.empty()) {
      out.answer = assistant.content;
      out.end = AgentEnd::kAnswered;
      break;
    }
    for (size_t i = 0; i < assistant.tool_calls.size(); ++i) {
      const chat::ToolCall& call = assistant.tool_calls[i];
      const int64_t executed_before = trajectory.stats().tool_calls_executed;
      ToolOutcome outcome;
      const ToolResult result = trajectory.tool_call(
          step, static_cast<int64_t>(i), {call.name, nlohmann::json::parse(call.arguments.dump())}, [&] {
            const auto start = std::chrono::steady_clock::now();
            outcome = run_workspace_tool(sandbox, call.name, call.arguments);
            return ToolResult{outcome.content, outcome.is_error, ms_since(start)};
          });
      outcome = {result.content, result.is_error};
      const bool replayed = trajectory.stats().tool_calls_executed == executed_before;
      if (options.on_tool_result) options.on_tool_result(call, outcome, replayed);
      chat::Message tool = text_message(chat::Role::kTool, result.content);
      tool.tool_call_id = call.id;
      out.conversation.messages.push_back(std::move(tool));
    }
  }
  out.stats = trajectory.stats();
  return out;
}

}  // namespace baleen::agent
