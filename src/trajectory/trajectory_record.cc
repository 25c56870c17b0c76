#include "trajectory/trajectory_record.h"

#include "core/error.h"

namespace baleen::trajectory {

namespace {

nlohmann::json call_json(const ToolCall& call) {
  return {{"name", call.name}, {"arguments", call.arguments}};
}

ToolCall call_from(const nlohmann::json& json) {
  return {json.at("name").get<std::string>(), json.at("arguments")};
}

// A counter field: an integer, not a float (a float outside int64's range would convert with UB).
int64_t integer_field(const nlohmann::json& json, const char* key) {
  const nlohmann::json& value = json.at(key);
  check(value.is_number_integer(), "field '{}' is not an integer: {}", key, value.dump());
  return value.get<int64_t>();
}

}  // namespace

std::string canonical_arguments(const nlohmann::json& arguments) {
  // nlohmann's object keeps keys sorted, and dump() without indent is compact.
  return arguments.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string encode_record(const TrajectoryRecord& record) {
  nlohmann::json json;
  if (record.type == RecordType::kUser) {
    json = {{"type", "user"}, {"turn", record.user.turn}, {"content", record.user.content}};
  } else if (record.type == RecordType::kStop) {
    json = {{"type", "stop"}, {"step", record.step}};
  } else if (record.type == RecordType::kModel) {
    const ModelStep& m = record.model;
    nlohmann::json calls = nlohmann::json::array();
    for (const auto& call : m.tool_calls) calls.push_back(call_json(call));
    json = {{"type", "model"},
            {"step", m.step},
            {"prompt_tokens", m.prompt_tokens},
            {"prompt_hash", m.prompt_hash},
            {"output", m.output},
            {"tool_calls", calls},
            {"model_ms", m.model_ms}};
  } else {
    json = {{"type", record.type == RecordType::kToolStart ? "tool_start" : "tool_result"},
            {"step", record.step},
            {"call", record.call},
            {"tool_call", call_json(record.tool_call)}};
    if (record.type == RecordType::kToolResult) {
      json["result"] = {{"content", record.result.content},
                        {"is_error", record.result.is_error},
                        {"tool_ms", record.result.tool_ms}};
    }
  }
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

TrajectoryRecord decode_record(std::string_view payload) {
  TrajectoryRecord record;
  try {
    nlohmann::json json = nlohmann::json::parse(payload);
    std::string type = json.at("type");
    if (type == "model") {
      record.type = RecordType::kModel;
      ModelStep& m = record.model;
      m.step = integer_field(json, "step");
      m.prompt_tokens = integer_field(json, "prompt_tokens");
      m.prompt_hash = json.at("prompt_hash");
      m.output = json.at("output");
      for (const auto& call : json.at("tool_calls")) m.tool_calls.push_back(call_from(call));
      m.model_ms = json.value("model_ms", 0.0);
      return record;
    }
    if (type == "user") {
      record.type = RecordType::kUser;
      record.user = {integer_field(json, "turn"), json.at("content")};
      return record;
    }
    if (type == "stop") {
      record.type = RecordType::kStop;
      record.step = integer_field(json, "step");
      return record;
    }
    check(type == "tool_start" || type == "tool_result", "unknown record type '{}'", type);
    record.type = type == "tool_start" ? RecordType::kToolStart : RecordType::kToolResult;
    record.step = integer_field(json, "step");
    record.call = integer_field(json, "call");
    record.tool_call = call_from(json.at("tool_call"));
    if (record.type == RecordType::kToolResult) {
      const auto& result = json.at("result");
      record.result = {result.at("content"), result.at("is_error"), result.value("tool_ms", 0.0)};
    }
  } catch (const nlohmann::json::exception& e) {
    fail("trajectory record is not valid: {}", e.what());
  }
  return record;
}

}  // namespace baleen::trajectory
