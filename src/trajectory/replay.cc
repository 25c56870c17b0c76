#include "trajectory/replay.h"

#include <chrono>

namespace baleen::trajectory {

namespace {

std::string describe(const TrajectoryRecord& record) {
  if (record.type == RecordType::kUser) {
    return fmt::format("user turn {}: \"{}\"", record.user.turn, record.user.content.substr(0, 200));
  }
  if (record.type == RecordType::kStop) return fmt::format("a stop before model step {}", record.step);
  if (record.type == RecordType::kModel) {
    return fmt::format("model step {} (prompt {} tokens, hash {})", record.model.step,
                       record.model.prompt_tokens, record.model.prompt_hash);
  }
  return fmt::format("{} of step {} call {}: {} {}",
                     record.type == RecordType::kToolStart ? "tool_start" : "tool_result", record.step,
                     record.call, record.tool_call.name, canonical_arguments(record.tool_call.arguments));
}

bool same_call(const ToolCall& a, const ToolCall& b) {
  return a.name == b.name && canonical_arguments(a.arguments) == canonical_arguments(b.arguments);
}

double elapsed_ms(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

TrajectorySession::TrajectorySession(TrajectoryLog& log, ModelReplay mode) : log_(log), mode_(mode) {
  for (size_t i = 0; i < log.payloads().size(); ++i) {
    try {
      logged_.push_back(decode_record(log.payloads()[i]));
    } catch (const Error& e) {
      fail("trajectory log '{}', record {}: {}", log.path(), i, e.what());
    }
  }
}

void TrajectorySession::diverge(const std::string& what) const {
  std::string logged = cursor_ < logged_.size() ? describe(logged_[cursor_]) : "the end of the log";
  throw ReplayDivergence(
      static_cast<int64_t>(cursor_),
      fmt::format("replay of '{}' diverged at record {}: the run asked for {}, the log has {}", log_.path(),
                  cursor_, what, logged));
}

bool TrajectorySession::matches(const TrajectoryRecord& record, int64_t step, int64_t call,
                                const ToolCall& tool_call) const {
  return (record.type == RecordType::kToolStart || record.type == RecordType::kToolResult) &&
         record.step == step && record.call == call && same_call(record.tool_call, tool_call);
}

std::optional<std::string> TrajectorySession::user_turn(
    int64_t turn, const std::function<std::optional<std::string>()>& read) {
  if (!live()) {
    const TrajectoryRecord& record = logged_[cursor_];
    if (record.type != RecordType::kUser || record.user.turn != turn)
      diverge(fmt::format("user turn {}", turn));
    ++cursor_;
    return record.user.content;
  }
  std::optional<std::string> content = read();
  if (!content) return std::nullopt;
  TrajectoryRecord record;
  record.type = RecordType::kUser;
  record.user = {turn, *content};
  log_.append(encode_record(record));  // durable before the model sees it
  return content;
}

bool TrajectorySession::stop_logged(int64_t step) const {
  return !live() && logged_[cursor_].type == RecordType::kStop && logged_[cursor_].step == step;
}

void TrajectorySession::stop(int64_t step) {
  if (!live()) {
    if (!stop_logged(step)) diverge(fmt::format("a stop before model step {}", step));
    ++cursor_;
    return;
  }
  TrajectoryRecord record;
  record.type = RecordType::kStop;
  record.step = step;
  log_.append(encode_record(record));
}

ModelStep TrajectorySession::model_step(int64_t step, int64_t prompt_tokens, const std::string& prompt_hash,
                                        const std::function<ModelStep()>& generate) {
  std::string asked =
      fmt::format("model step {} (prompt {} tokens, hash {})", step, prompt_tokens, prompt_hash);
  if (!live()) {
    const TrajectoryRecord& record = logged_[cursor_];
    if (record.type != RecordType::kModel || record.model.step != step ||
        record.model.prompt_tokens != prompt_tokens || record.model.prompt_hash != prompt_hash) {
      diverge(asked);
    }
    if (mode_ == ModelReplay::kVerify) {
      ModelStep again = generate();
      bool same_calls = again.tool_calls.size() == record.model.tool_calls.size();
      for (size_t i = 0; same_calls && i < again.tool_calls.size(); ++i) {
        same_calls = same_call(again.tool_calls[i], record.model.tool_calls[i]);
      }
      if (again.output != record.model.output || !same_calls) {
        diverge(asked + " whose regenerated output differs: \"" + again.output.substr(0, 200) + "\"");
      }
    }
    ++cursor_;
    ++stats_.model_steps_replayed;
    current_ = record.model;
    return record.model;
  }
  auto start = std::chrono::steady_clock::now();
  ModelStep generated = generate();
  generated.step = step;
  generated.prompt_tokens = prompt_tokens;
  generated.prompt_hash = prompt_hash;
  if (generated.model_ms == 0) generated.model_ms = elapsed_ms(start);
  TrajectoryRecord record;
  record.model = generated;
  log_.append(encode_record(record));  // durable before any of its tool calls can run
  ++stats_.model_steps_generated;
  current_ = generated;
  return generated;
}

ToolResult TrajectorySession::tool_call(int64_t step, int64_t call, const ToolCall& tool_call,
                                        const std::function<ToolResult()>& execute) {
  std::string asked = fmt::format("tool call {} of step {}: {} {}", call, step, tool_call.name,
                                  canonical_arguments(tool_call.arguments));
  if (current_ && current_->step == step && call >= 0 &&
      call < static_cast<int64_t>(current_->tool_calls.size()) &&
      !same_call(current_->tool_calls[static_cast<size_t>(call)], tool_call)) {
    diverge(asked + ", which is not the call model step " + std::to_string(step) + " made");
  }
  bool started = false;
  while (!live() && logged_[cursor_].type == RecordType::kToolStart) {
    if (!matches(logged_[cursor_], step, call, tool_call)) diverge(asked);
    started = true;
    ++cursor_;
  }
  if (!live()) {
    const TrajectoryRecord& record = logged_[cursor_];
    if (record.type != RecordType::kToolResult || !matches(record, step, call, tool_call)) diverge(asked);
    ++cursor_;
    ++stats_.tool_calls_replayed;
    return record.result;
  }
  if (started) ++stats_.interrupted_calls_rerun;
  TrajectoryRecord record;
  record.type = RecordType::kToolStart;
  record.step = step;
  record.call = call;
  record.tool_call = tool_call;
  log_.append(encode_record(record));
  auto start = std::chrono::steady_clock::now();
  record.result = execute();
  if (record.result.tool_ms == 0) record.result.tool_ms = elapsed_ms(start);
  record.type = RecordType::kToolResult;
  log_.append(encode_record(record));  // durable before the result reaches the conversation
  ++stats_.tool_calls_executed;
  return record.result;
}

}  // namespace baleen::trajectory
