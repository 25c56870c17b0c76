// Re-running an agent session from its trajectory log. The loop asks a TrajectorySession for each
// user turn (interactive sessions only), model step and tool call in order; while the log has them, their
// logged values come back without running anything (a model step may be regenerated and verified instead),
// and a request that does not match the log throws ReplayDivergence with a report. Past the end of the log,
// the session runs the model and the tools live, logging each record durably before returning it. Tool calls
// run at most once per logged result; a call interrupted between its tool_start and tool_result records runs
// again (at-least-once for that one call) and is counted.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "trajectory/trajectory_log.h"
#include "trajectory/trajectory_record.h"

namespace baleen::trajectory {

class ReplayDivergence : public Error {
 public:
  ReplayDivergence(int64_t record_index, const std::string& report)
      : Error(report), record_index_(record_index) {}
  int64_t record_index() const { return record_index_; }

 private:
  int64_t record_index_;
};

enum class ModelReplay {
  kFromLog,  // logged model steps are returned as logged; generate is not called
  kVerify,   // generate is called and must reproduce the logged output and tool calls
};

struct ReplayStats {
  int64_t model_steps_replayed = 0;
  int64_t model_steps_generated = 0;
  int64_t tool_calls_replayed = 0;
  int64_t tool_calls_executed = 0;
  int64_t interrupted_calls_rerun = 0;  // started in the log, never finished, run again
};

class TrajectorySession {
 public:
  explicit TrajectorySession(TrajectoryLog& log, ModelReplay mode = ModelReplay::kFromLog);

  // User turn `turn` (0-based): its logged content while the log has records, else read()'s, logged
  // durably before it is returned; nullopt (nothing logged) when read() has none.
  std::optional<std::string> user_turn(int64_t turn, const std::function<std::optional<std::string>()>& read);
  // Model step `step` for a prompt of `prompt_tokens` tokens hashing to `prompt_hash`. generate()
  // returns the model's output and tool calls; step, prompt fields are filled in here.
  ModelStep model_step(int64_t step, int64_t prompt_tokens, const std::string& prompt_hash,
                       const std::function<ModelStep()>& generate);
  // Whether the log's next record is a stop before model step `step` (while replaying).
  bool stop_logged(int64_t step) const;
  // The user stopped the task before model step `step`: logged durably, or matched with the log's stop.
  void stop(int64_t step);
  // Call `call` (0-based) of model step `step`.
  ToolResult tool_call(int64_t step, int64_t call, const ToolCall& tool_call,
                       const std::function<ToolResult()>& execute);

  bool live() const { return cursor_ >= logged_.size(); }
  const ReplayStats& stats() const { return stats_; }

 private:
  [[noreturn]] void diverge(const std::string& what) const;
  bool matches(const TrajectoryRecord& record, int64_t step, int64_t call, const ToolCall& tool_call) const;

  TrajectoryLog& log_;
  ModelReplay mode_;
  std::vector<TrajectoryRecord> logged_;
  size_t cursor_ = 0;
  std::optional<ModelStep> current_;
  ReplayStats stats_;
};

}  // namespace baleen::trajectory
