#include "server/messages_response.h"

#include "core/log.h"
#include "server/api_error.h"

namespace baleen::server {
namespace {

using chat::Json;

Json tool_use_block(const chat::ToolCall& call, Json input) {
  return {{"type", "tool_use"}, {"id", tool_use_id(call.id)}, {"name", call.name}, {"input", std::move(input)}};
}

// The parser's arguments are an object, or the raw text when the model wrote no JSON object.
Json input_of(const chat::ToolCall& call) {
  return call.arguments.is_object() ? call.arguments : Json::object({{"arguments", call.arguments}});
}

}  // namespace

std::string tool_use_id(const std::string& call_id) {
  return call_id.starts_with("call_") ? "toolu_" + call_id.substr(5) : call_id;
}

std::string thinking_signature(const MessageMeta& meta) {
  return "baleen:" + meta.id;
}

std::string_view stop_reason(session::FinishReason finish) {
  switch (finish) {
    case session::FinishReason::kStop:
      return "end_turn";
    case session::FinishReason::kLength:
      return "max_tokens";
    case session::FinishReason::kToolCalls:
      return "tool_use";
    case session::FinishReason::kStopSequence:
      return "stop_sequence";
  }
  return "end_turn";
}

Json messages_usage(const session::TurnResult& result) {
  return {{"input_tokens", result.prompt_tokens - result.reused_tokens},
          {"cache_creation_input_tokens", 0},
          {"cache_read_input_tokens", result.reused_tokens},
          {"output_tokens", result.completion_tokens}};
}

Json message_json(const MessageMeta& meta, const session::TurnResult& result) {
  for (const chat::ParseError& error : result.errors) log::warn("model output: {}", error.message);
  Json content = Json::array();
  if (!result.reasoning.empty())
    content.push_back(
        {{"type", "thinking"}, {"thinking", result.reasoning}, {"signature", thinking_signature(meta)}});
  if (!result.content.empty()) content.push_back({{"type", "text"}, {"text", result.content}});
  for (const chat::ToolCall& call : result.tool_calls) content.push_back(tool_use_block(call, input_of(call)));
  return {{"id", meta.id},
          {"type", "message"},
          {"role", "assistant"},
          {"model", meta.model},
          {"content", std::move(content)},
          {"stop_reason", stop_reason(result.finish)},
          {"stop_sequence", result.finish == session::FinishReason::kStopSequence ? Json(result.stop_sequence)
                                                                                   : Json()},
          {"usage", messages_usage(result)}};
}

std::string named_event(std::string_view name, const Json& data) {
  return fmt::format("event: {}\ndata: {}\n\n", name, data.dump());
}

MessageStreamEncoder::MessageStreamEncoder(MessageMeta meta) : meta_(std::move(meta)) {}

std::string MessageStreamEncoder::error(std::string_view message) const {
  return named_event("error", anthropic_error_body(500, message));
}

std::string MessageStreamEncoder::prompt(int64_t prompt_tokens, int64_t reused_tokens) const {
  const Json message = {{"id", meta_.id},
                        {"type", "message"},
                        {"role", "assistant"},
                        {"model", meta_.model},
                        {"content", Json::array()},
                        {"stop_reason", nullptr},
                        {"stop_sequence", nullptr},
                        {"usage",
                         {{"input_tokens", prompt_tokens - reused_tokens},
                          {"cache_creation_input_tokens", 0},
                          {"cache_read_input_tokens", reused_tokens},
                          {"output_tokens", 0}}}};
  return named_event("message_start", {{"type", "message_start"}, {"message", message}}) +
         named_event("ping", {{"type", "ping"}});
}

std::string MessageStreamEncoder::open(Block kind, Json block) {
  std::string out = close();
  open_ = kind;
  out += named_event("content_block_start",
                     {{"type", "content_block_start"}, {"index", ++index_}, {"content_block", std::move(block)}});
  return out;
}

std::string MessageStreamEncoder::close() {
  if (open_ == Block::kNone) return "";
  std::string out;
  if (open_ == Block::kThinking)
    out += named_event("content_block_delta",
                       {{"type", "content_block_delta"},
                        {"index", index_},
                        {"delta", {{"type", "signature_delta"}, {"signature", thinking_signature(meta_)}}}});
  open_ = Block::kNone;
  return out + named_event("content_block_stop", {{"type", "content_block_stop"}, {"index", index_}});
}

std::string MessageStreamEncoder::event(const chat::ParseEvent& event) {
  using Kind = chat::ParseEvent::Kind;
  std::string out;
  auto delta = [&](Json d) {
    out += named_event("content_block_delta",
                       {{"type", "content_block_delta"}, {"index", index_}, {"delta", std::move(d)}});
  };
  switch (event.kind) {
    case Kind::kReasoning:
      if (event.text.empty()) return "";
      if (open_ != Block::kThinking) out += open(Block::kThinking, {{"type", "thinking"}, {"thinking", ""}, {"signature", ""}});
      delta({{"type", "thinking_delta"}, {"thinking", event.text}});
      return out;
    case Kind::kContent:
      if (event.text.empty()) return "";
      if (open_ != Block::kText) out += open(Block::kText, {{"type", "text"}, {"text", ""}});
      delta({{"type", "text_delta"}, {"text", event.text}});
      return out;
    case Kind::kToolCall:
      // A call arrives whole: its block opens with an empty input, the JSON follows as one delta.
      out += open(Block::kNone, tool_use_block(event.call, Json::object()));
      delta({{"type", "input_json_delta"}, {"partial_json", input_of(event.call).dump()}});
      out += named_event("content_block_stop", {{"type", "content_block_stop"}, {"index", index_}});
      return out;
    case Kind::kError:
      log::warn("model output: {}", event.error.message);
      return "";
  }
  return "";
}

std::string MessageStreamEncoder::finish(const session::TurnResult& result) {
  std::string out = close();
  out += named_event(
      "message_delta",
      {{"type", "message_delta"},
       {"delta",
        {{"stop_reason", stop_reason(result.finish)},
         {"stop_sequence",
          result.finish == session::FinishReason::kStopSequence ? Json(result.stop_sequence) : Json()}}},
       {"usage", {{"output_tokens", result.completion_tokens}}}});
  return out + named_event("message_stop", {{"type", "message_stop"}});
}

}  // namespace baleen::server
