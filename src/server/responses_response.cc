#include "server/responses_response.h"

#include "core/log.h"

namespace baleen::server {
namespace {

using chat::Json;

// Item ids share the response's suffix: rs_X, msg_X, fc_X_N.
std::string suffix(const std::string& response_id) {
  return response_id.substr(response_id.find('_') + 1);
}

Json summary_part(const std::string& text) {
  return {{"type", "summary_text"}, {"text", text}};
}

}  // namespace

Json responses_usage(const session::TurnResult& result) {
  return {{"input_tokens", result.prompt_tokens},
          {"input_tokens_details", {{"cached_tokens", result.reused_tokens}}},
          {"output_tokens", result.completion_tokens},
          {"output_tokens_details", {{"reasoning_tokens", 0}}},
          {"total_tokens", result.prompt_tokens + result.completion_tokens}};
}

ResponseBuilder::ResponseBuilder(ResponseMeta meta) : meta_(std::move(meta)) {
  response_ = {{"id", meta_.id},
               {"object", "response"},
               {"created_at", meta_.created_at},
               {"status", "in_progress"},
               {"error", nullptr},
               {"incomplete_details", nullptr},
               {"model", meta_.model},
               {"output", Json::array()},
               {"usage", nullptr}};
  for (const auto& [key, value] : meta_.echo.items()) response_[key] = value;
  if (meta_.logprobs) logprobs_.emplace(*meta_.logprobs);
}

void ResponseBuilder::logprob(const TokenLogprob& token) {
  if (logprobs_) pending_.push_back(token);
}

// The tokens sampled since the last look, added to the open message's output_text part.
Json ResponseBuilder::take_logprobs() {
  if (!logprobs_ || pending_.empty()) return Json::array();
  Json entries = logprobs_->chat(pending_)["content"];
  pending_.clear();
  Json& part = response_["output"].back()["content"][0]["logprobs"];
  for (const Json& e : entries) part.push_back(e);
  return entries;
}

std::vector<std::string> ResponseBuilder::item_ids() const {
  const std::string s = suffix(meta_.id);
  return {"rs_" + s, "msg_" + s};
}

std::string ResponseBuilder::emit(std::string type, Json fields) {
  Json event = {{"type", type}, {"sequence_number", sequence_++}};
  for (auto& [key, value] : fields.items()) event[key] = std::move(value);
  return fmt::format("event: {}\ndata: {}\n\n", type, event.dump());
}

std::string ResponseBuilder::begin() {
  std::string out = emit("response.created", {{"response", response_}});  // sequenced: numbers count up
  return out + emit("response.in_progress", {{"response", response_}});
}

std::string ResponseBuilder::open(Item kind) {
  std::string out = close();
  open_ = kind;
  text_.clear();
  const int64_t index = static_cast<int64_t>(response_["output"].size());
  const std::string s = suffix(meta_.id);
  Json item, part;
  if (kind == Item::kReasoning) {
    item = {{"id", "rs_" + s}, {"type", "reasoning"}, {"summary", Json::array()}, {"content", Json::array()},
            {"status", "in_progress"}};
    part = {{"type", "reasoning_text"}, {"text", ""}};
  } else {
    item = {{"id", "msg_" + s}, {"type", "message"}, {"status", "in_progress"}, {"role", "assistant"},
            {"content", Json::array()}};
    part = {{"type", "output_text"}, {"text", ""}, {"annotations", Json::array()}, {"logprobs", Json::array()}};
  }
  out += emit("response.output_item.added", {{"output_index", index}, {"item", item}});
  out += emit("response.content_part.added",
              {{"item_id", item["id"]}, {"output_index", index}, {"content_index", 0}, {"part", part}});
  if (kind == Item::kReasoning && meta_.summary)
    out += emit("response.reasoning_summary_part.added",
                {{"item_id", item["id"]}, {"output_index", index}, {"summary_index", 0}, {"part", summary_part("")}});
  item["content"].push_back(part);
  response_["output"].push_back(std::move(item));
  return out;
}

std::string ResponseBuilder::close() {
  if (open_ == Item::kNone) return "";
  const int64_t index = static_cast<int64_t>(response_["output"].size()) - 1;
  Json& item = response_["output"].back();
  Json& part = item["content"][0];
  part["text"] = text_;
  const std::string done = open_ == Item::kReasoning ? "response.reasoning_text.done" : "response.output_text.done";
  Json fields = {{"item_id", item["id"]}, {"output_index", index}, {"content_index", 0}, {"text", text_}};
  if (open_ == Item::kMessage) {
    take_logprobs();
    fields["logprobs"] = part["logprobs"];
  }
  std::string out = emit(done, std::move(fields));
  out += emit("response.content_part.done",
              {{"item_id", item["id"]}, {"output_index", index}, {"content_index", 0}, {"part", part}});
  if (open_ == Item::kReasoning && meta_.summary) {
    const Json where = {{"item_id", item["id"]}, {"output_index", index}, {"summary_index", 0}};
    Json text_done = where, part_done = where;
    text_done["text"] = text_;
    part_done["part"] = summary_part(text_);
    out += emit("response.reasoning_summary_text.done", std::move(text_done));
    out += emit("response.reasoning_summary_part.done", std::move(part_done));
    item["summary"] = Json::array({summary_part(text_)});
  }
  item["status"] = "completed";
  out += emit("response.output_item.done", {{"output_index", index}, {"item", item}});
  open_ = Item::kNone;
  return out;
}

std::string ResponseBuilder::call(const chat::ToolCall& call) {
  std::string out = close();
  pending_.clear();  // the call's markup, sampled outside any message
  const int64_t index = static_cast<int64_t>(response_["output"].size());
  const std::string id = fmt::format("{}_{}_{}", meta_.custom_tools.contains(call.name) ? "ctc" : "fc",
                                     suffix(meta_.id), index);
  Json item;
  if (meta_.custom_tools.contains(call.name)) {
    const Json input = call.arguments.is_object() ? call.arguments.value("input", Json("")) : call.arguments;
    const std::string text = input.is_string() ? input.get<std::string>() : input.dump();
    item = {{"id", id}, {"type", "custom_tool_call"}, {"status", "in_progress"}, {"call_id", call.id},
            {"name", call.name}, {"input", ""}};
    out += emit("response.output_item.added", {{"output_index", index}, {"item", item}});
    out += emit("response.custom_tool_call_input.delta", {{"item_id", id}, {"output_index", index}, {"delta", text}});
    out += emit("response.custom_tool_call_input.done", {{"item_id", id}, {"output_index", index}, {"input", text}});
    item["input"] = text;
  } else {
    const std::string arguments = call.arguments.is_string() ? call.arguments.get<std::string>() : call.arguments.dump();
    item = {{"id", id}, {"type", "function_call"}, {"status", "in_progress"}, {"call_id", call.id},
            {"name", call.name}, {"arguments", ""}};
    if (const auto ns = meta_.namespaced.find(call.name); ns != meta_.namespaced.end()) {
      item["name"] = ns->second.second;
      item["namespace"] = ns->second.first;
    }
    // The added item's arguments are empty so a client adding deltas to it ends with the JSON once.
    out += emit("response.output_item.added", {{"output_index", index}, {"item", item}});
    out += emit("response.function_call_arguments.delta",
                {{"item_id", id}, {"output_index", index}, {"delta", arguments}});
    out += emit("response.function_call_arguments.done",
                {{"item_id", id}, {"output_index", index}, {"name", item["name"]}, {"arguments", arguments}});
    item["arguments"] = arguments;
  }
  item["status"] = "completed";
  out += emit("response.output_item.done", {{"output_index", index}, {"item", item}});
  response_["output"].push_back(std::move(item));
  return out;
}

std::string ResponseBuilder::event(const chat::ParseEvent& event) {
  using Kind = chat::ParseEvent::Kind;
  std::string out;
  const auto delta = [&](const char* type) {
    text_ += event.text;
    const int64_t index = static_cast<int64_t>(response_["output"].size()) - 1;
    Json fields = {{"item_id", response_["output"].back()["id"]}, {"output_index", index}, {"content_index", 0},
                   {"delta", event.text}};
    if (open_ == Item::kMessage) fields["logprobs"] = take_logprobs();
    if (open_ == Item::kReasoning && meta_.summary) {
      Json summary = {{"item_id", fields["item_id"]}, {"output_index", index}, {"summary_index", 0},
                      {"delta", event.text}};
      out += emit(type, std::move(fields));
      out += emit("response.reasoning_summary_text.delta", std::move(summary));
      return;
    }
    out += emit(type, std::move(fields));
  };
  switch (event.kind) {
    case Kind::kReasoning:
      if (event.text.empty()) return "";
      if (open_ != Item::kReasoning) out += open(Item::kReasoning);
      delta("response.reasoning_text.delta");
      return out;
    case Kind::kContent:
      if (event.text.empty()) return "";
      if (open_ != Item::kMessage) out += open(Item::kMessage);
      delta("response.output_text.delta");
      return out;
    case Kind::kToolCall:
      return call(event.call);
    case Kind::kError:
      log::warn("model output: {}", event.error.message);
      return "";
  }
  return "";
}

std::string ResponseBuilder::finish(const session::TurnResult& result) {
  std::string out = close();
  pending_.clear();
  response_["usage"] = responses_usage(result);
  if (result.finish == session::FinishReason::kLength) {
    response_["status"] = "incomplete";
    response_["incomplete_details"] = {{"reason", "max_output_tokens"}};
    return out + emit("response.incomplete", {{"response", response_}});
  }
  response_["status"] = "completed";
  return out + emit("response.completed", {{"response", response_}});
}

std::string ResponseBuilder::failed(std::string_view code, std::string_view message) {
  response_["status"] = "failed";
  response_["error"] = {{"code", code}, {"message", message}};
  return emit("response.failed", {{"response", response_}});
}

}  // namespace baleen::server
