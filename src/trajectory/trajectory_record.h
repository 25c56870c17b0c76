// The records of an agent trajectory, as JSON payloads of the TrajectoryLog. One agent step is a
// `model` record (logged before any of its tool calls runs) and, per tool call, a `tool_start`
// record (logged before the call executes) and a `tool_result` record (logged before the result is
// used). Tool calls are keyed by (step, call index, name, canonical arguments). An interactive
// session logs each task as a `user` record before its first step; a one-shot log has none. A task the
// user stopped (Ctrl-C in an interactive session) ends with a `stop` record naming the model step it
// stopped before; the next task follows it.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace baleen::trajectory {

struct ToolCall {
  std::string name;
  nlohmann::json arguments = nlohmann::json::object();
};

struct ModelStep {
  int64_t step = 0;
  int64_t prompt_tokens = 0;  // tokens of the rendered prompt the model saw
  std::string prompt_hash;    // hash of those tokens (the loop's choice of hash, e.g. hex crc/xxh)
  std::string output;         // the model's raw output text (reasoning, content, tool calls)
  std::vector<ToolCall> tool_calls;
  double model_ms = 0;
};

struct ToolResult {
  std::string content;
  bool is_error = false;
  double tool_ms = 0;
};

struct UserTurn {
  int64_t turn = 0;  // 0-based index of the task in the session
  std::string content;
};

enum class RecordType { kModel, kToolStart, kToolResult, kUser, kStop };

struct TrajectoryRecord {
  RecordType type = RecordType::kModel;
  ModelStep model;   // kModel
  int64_t step = 0;  // kToolStart / kToolResult; kStop: the model step the task stopped before
  int64_t call = 0;
  ToolCall tool_call;
  ToolResult result;  // kToolResult
  UserTurn user;      // kUser
};

// Compact JSON with sorted keys: equal arguments give equal strings.
std::string canonical_arguments(const nlohmann::json& arguments);

std::string encode_record(const TrajectoryRecord& record);
// Throws baleen::Error naming the field when the payload is not a valid record.
TrajectoryRecord decode_record(std::string_view payload);

}  // namespace baleen::trajectory
