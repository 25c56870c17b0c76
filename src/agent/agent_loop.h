// The agent loop: the model and the workspace tools take turns in DeepSeek-V4's native tool format with
// interleaved thinking, until the model answers without a tool call or the step limit. Every model step and
// tool call goes through a TrajectorySession, so it is logged durably before it is acted on, and a resumed
// log returns its recorded results without running anything again. An AgentLoop runs tasks one after the
// other in one conversation (each a new user turn, so each prompt extends the last and the TurnRunner
// reuses its prefix); run_agent is the one-shot case, a single task whose user turn is not logged.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>

#include "agent/workspace_tools.h"
#include "sandbox/sandbox.h"
#include "session/turn_runner.h"
#include "trajectory/replay.h"

namespace baleen::agent {

inline constexpr const char* kAgentSystemPrompt =
    "You are baleen-nano, a helpful assistant. You can use tools to work in a small workspace.";

struct AgentOptions {
  std::string task;  // run_agent's task

  std::string system = kAgentSystemPrompt;  // empty: no system message
  session::TurnOptions turn;                // tools default to workspace_tool_schemas() when null
  int64_t max_steps = 8;                    // per task
  const std::atomic<bool>* stop = nullptr;  // set (SIGINT): the loop stops between tokens or steps
  // Progress: each model step's parsed output and each tool call's result, as they happen.
  std::function<void(int64_t step, const chat::Message& assistant)> on_model_step;
  std::function<void(const chat::ToolCall& call, const ToolOutcome& outcome, bool replayed)> on_tool_result;
};

enum class AgentEnd { kAnswered, kStepLimit, kInterrupted };
std::string_view agent_end_name(AgentEnd end);

// One task's outcome.
struct AgentOutcome {
  AgentEnd end = AgentEnd::kAnswered;
  std::string answer;             // content of the last model step
  int64_t steps = 0;              // model steps taken (replayed or live)
  trajectory::ReplayStats stats;  // this task's
  // The task's first live model step: its prompt and how much of it the session state already held
  // (both 0 when every step was replayed).
  int64_t prompt_tokens = 0, reused_tokens = 0;
  chat::Conversation conversation;  // the whole conversation so far
};

class AgentLoop {
 public:
  // Borrows all four; replays `log` from its first record.
  AgentLoop(session::TurnRunner& session, sandbox::Sandbox& sandbox, trajectory::TrajectoryLog& log,
            AgentOptions options);

  // The next task of an interactive session: the next logged user turn while the log has records, else
  // read()'s, logged durably before it is returned; nullopt when read() has none. Throws ReplayDivergence
  // when the log has something else next (a one-shot log, or a task cut off by a smaller --max-steps).
  std::optional<std::string> next_task(const std::function<std::optional<std::string>()>& read);
  // Runs `task` as the next user turn until the model answers, max_steps steps, the stop flag or a logged
  // stop (stop_task). After kInterrupted the conversation is cut mid-task: call stop_task before the next
  // task, or run no further task (resume the log instead).
  AgentOutcome run_task(const std::string& task);
  // Ends the task run_task returned kInterrupted for as stopped by the user (a `stop` record), so the
  // session can take its next task; a resumed log replays the stop instead of continuing the task.
  // Without it, a resumed log continues the interrupted task live.
  void stop_task();

  bool replaying() const { return !trajectory_.live(); }
  const trajectory::ReplayStats& stats() const { return trajectory_.stats(); }  // the whole session's

 private:
  bool stopped() const { return options_.stop && options_.stop->load(); }
  // Model step step_, replayed or generated, its assistant message appended; nullopt when stopped.
  std::optional<chat::Message> model_step(AgentOutcome& out);
  // The calls of model step `step` (replayed or run in the sandbox), their results appended.
  void run_tool_calls(int64_t step, const chat::Message& assistant);

  session::TurnRunner& session_;
  sandbox::Sandbox& sandbox_;
  trajectory::TrajectorySession trajectory_;
  AgentOptions options_;
  session::TurnOptions turn_;
  chat::Conversation conversation_;
  int64_t step_ = 0;        // model steps of the session: the log's step index
  int64_t user_turns_ = 0;  // logged (or replayed) by next_task
};

// One task (options.task) from a fresh conversation.
AgentOutcome run_agent(session::TurnRunner& session, sandbox::Sandbox& sandbox,
                       trajectory::TrajectoryLog& log, const AgentOptions& options);

}  // namespace baleen::agent
