#include "agent/agent_loop.h"

#include <chrono>

#include "core/crc32c.h"
#include "core/error.h"

namespace baleen::agent {
namespace {

std::string hash_tokens(const std::vector<int32_t>& tokens) {
  const std::string_view bytes(reinterpret_cast<const char*>(tokens.data()), tokens.size() * sizeof(int32_t));
  return fmt::format("crc32c:{:08x}", crc32c(bytes));
}

trajectory::ModelStep to_model_step(const session::TurnResult& turn) {
  trajectory::ModelStep step;
  step.output = turn.raw_text;
  for (const chat::ToolCall& call : turn.tool_calls) {
    step.tool_calls.push_back({call.name, nlohmann::json::parse(call.arguments.dump())});
  }
  return step;
}

// The assistant message of a step's raw output: the same parse as the streamed one, so live and replayed
// steps build the same history.
chat::Message assistant_message(const trajectory::ModelStep& step, const session::TurnOptions& turn,
                                int64_t index) {
  const chat::ParsedOutput parsed =
      chat::parse_output(step.output, {.starts_in_reasoning = turn.render.thinking,
                                       .tools = turn.tools,
                                       .id_seed = static_cast<uint64_t>(index)});
  chat::Message m = session::text_message(chat::Role::kAssistant, parsed.content);
  m.reasoning_content = parsed.reasoning;
  m.tool_calls = parsed.tool_calls;
  return m;
}

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

trajectory::ReplayStats since(const trajectory::ReplayStats& now, const trajectory::ReplayStats& before) {
  return {now.model_steps_replayed - before.model_steps_replayed,
          now.model_steps_generated - before.model_steps_generated,
          now.tool_calls_replayed - before.tool_calls_replayed,
          now.tool_calls_executed - before.tool_calls_executed,
          now.interrupted_calls_rerun - before.interrupted_calls_rerun};
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

AgentLoop::AgentLoop(session::TurnRunner& session, sandbox::Sandbox& sandbox, trajectory::TrajectoryLog& log,
                     AgentOptions options)
    : session_(session),
      sandbox_(sandbox),
      trajectory_(log),
      options_(std::move(options)),
      turn_(options_.turn) {
  check(options_.max_steps > 0, "max steps must be > 0, got {}", options_.max_steps);
  if (turn_.tools.is_null()) turn_.tools = workspace_tool_schemas();
  turn_.stop = options_.stop;
  if (!options_.system.empty())
    conversation_.messages.push_back(session::text_message(chat::Role::kSystem, options_.system));
}

std::optional<std::string> AgentLoop::next_task(const std::function<std::optional<std::string>()>& read) {
  std::optional<std::string> task = trajectory_.user_turn(user_turns_, read);
  if (task) ++user_turns_;
  return task;
}

AgentOutcome AgentLoop::run_task(const std::string& task) {
  conversation_.messages.push_back(session::text_message(chat::Role::kUser, task));
  const trajectory::ReplayStats before = trajectory_.stats();
  AgentOutcome out;
  for (;;) {
    if (out.steps >= options_.max_steps) {
      out.end = AgentEnd::kStepLimit;
      break;
    }
    const int64_t step = step_;
    const bool stop = stopped() || trajectory_.stop_logged(step_);
    const std::optional<chat::Message> assistant = stop ? std::nullopt : model_step(out);
    if (!assistant) {
      out.end = AgentEnd::kInterrupted;
      break;
    }
    if (assistant->tool_calls.empty()) {
      out.answer = assistant->content;
      out.end = AgentEnd::kAnswered;
      break;
    }
    run_tool_calls(step, *assistant);
  }
  out.stats = since(trajectory_.stats(), before);
  out.conversation = conversation_;
  return out;
}

void AgentLoop::stop_task() {
  trajectory_.stop(step_);
}

std::optional<chat::Message> AgentLoop::model_step(AgentOutcome& out) {
  const int64_t step = step_;
  turn_.id_seed = static_cast<uint64_t>(step);
  const std::vector<int32_t> prompt = session_.prompt_tokens(conversation_, turn_);
  trajectory::ModelStep logged;
  try {
    logged = trajectory_.model_step(step, static_cast<int64_t>(prompt.size()), hash_tokens(prompt), [&] {
      const session::TurnResult result = session_.generate(prompt, turn_);
      if (out.prompt_tokens == 0) {
        out.prompt_tokens = result.prompt_tokens;
        out.reused_tokens = result.reused_tokens;
      }
      return to_model_step(result);
    });
  } catch (const session::TurnInterrupted&) {
    return std::nullopt;
  }
  ++step_;
  ++out.steps;
  chat::Message assistant = assistant_message(logged, turn_, step);
  conversation_.messages.push_back(assistant);
  if (options_.on_model_step) options_.on_model_step(step, assistant);
  return assistant;
}

void AgentLoop::run_tool_calls(int64_t step, const chat::Message& assistant) {
  for (size_t i = 0; i < assistant.tool_calls.size(); ++i) {
    const chat::ToolCall& call = assistant.tool_calls[i];
    const int64_t executed_before = trajectory_.stats().tool_calls_executed;
    ToolOutcome outcome;
    const trajectory::ToolResult result = trajectory_.tool_call(
        step, static_cast<int64_t>(i), {call.name, nlohmann::json::parse(call.arguments.dump())}, [&] {
          const auto start = std::chrono::steady_clock::now();
          outcome = run_workspace_tool(sandbox_, call.name, call.arguments);
          return trajectory::ToolResult{outcome.content, outcome.is_error, ms_since(start)};
        });
    outcome = {result.content, result.is_error};
    const bool replayed = trajectory_.stats().tool_calls_executed == executed_before;
    if (options_.on_tool_result) options_.on_tool_result(call, outcome, replayed);
    chat::Message tool = session::text_message(chat::Role::kTool, result.content);
    tool.tool_call_id = call.id;
    conversation_.messages.push_back(std::move(tool));
  }
}

AgentOutcome run_agent(session::TurnRunner& session, sandbox::Sandbox& sandbox,
                       trajectory::TrajectoryLog& log, const AgentOptions& options) {
  AgentLoop loop(session, sandbox, log, options);
  return loop.run_task(options.task);
}

}  // namespace baleen::agent
