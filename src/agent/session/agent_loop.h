// The agent loop: the model and the workspace tools take turns in DeepSeek-V4's native tool format with
// interleaved thinking, until the model answers without a tool call or the step limit. Every model step and
// tool call goes through a TrajectorySession, so it is logged durably before it is acted on, and a resumed
// log returns its recorded results without running anything again.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "agent/sandbox/sandbox.h"
#include "agent/session/chat_session.h"
#include "agent/session/workspace_tools.h"
#include "agent/trajectory/replay.h"

namespace baleen::agent {

inline constexpr const char* kAgentSystemPrompt =
    "You are baleen-nano, a helpful assistant. You can use tools to work in a small workspace.";

struct AgentOptions {
  std::string task;
  std::string system = kAgentSystemPrompt;  // empty: no system message
  TurnOptions turn;                         // tools default to workspace_tool_schemas() when null
  int64_t max_steps = 8;
  const std::atomic<bool>* stop = nullptr;  // set (SIGINT): the loop stops between tokens or steps
  // Progress: each model step's parsed output and each tool call's result, as they happen.
  std::function<void(int64_t step, const chat::Message& assistant)> on_model_step;
  std::function<void(const chat::ToolCall& call, const ToolOutcome& outcome, bool replayed)> on_tool_result;
};

enum class AgentEnd { kAnswered, kStepLimit, kInterrupted };
std::string_view agent_end_name(AgentEnd end);

struct AgentOutcome {
  AgentEnd end = AgentEnd::kAnswered;
  std::string answer;  // content of the last model step
  int64_t steps = 0;   // model steps taken (replayed or live)
  ReplayStats stats;
  chat::Conversation conversation;
};

AgentOutcome run_agent(ChatSession& session, Sandbox& sandbox, TrajectoryLog& log,
                       const AgentOptions& options);

}  // namespace baleen::agent
