#include "server/chat_response.h"

#include "core/log.h"
#include "server/api_error.h"

namespace baleen::server {
namespace {

using chat::Json;

// OpenAI sends arguments as a JSON string; the parser's arguments are an object.
Json tool_call_json(const chat::ToolCall& call) {
  const std::string arguments =
      call.arguments.is_string() ? call.arguments.get<std::string>() : call.arguments.dump();
  return {
      {"id", call.id}, {"type", "function"}, {"function", {{"name", call.name}, {"arguments", arguments}}}};
}

void log_parse_errors(const session::TurnResult& result) {
  for (const chat::ParseError& error : result.errors) log::warn("model output: {}", error.message);
}

}  // namespace

Json usage_json(std::span<const session::TurnResult> choices) {
  const int64_t prompt = choices.front().prompt_tokens;
  int64_t completion = 0;
  for (const session::TurnResult& r : choices) completion += r.completion_tokens;
  return {{"prompt_tokens", prompt},
          {"completion_tokens", completion},
          {"total_tokens", prompt + completion},
          {"prompt_tokens_details", {{"cached_tokens", choices.front().reused_tokens}}}};
}

Json completion_json(const CompletionMeta& meta, std::span<const session::TurnResult> choices,
                     const tokenizer::Tokenizer* logprobs) {
  Json out = {{"id", meta.id},
              {"object", "chat.completion"},
              {"created", meta.created},
              {"model", meta.model},
              {"choices", Json::array()},
              {"usage", usage_json(choices)}};
  for (size_t i = 0; i < choices.size(); ++i) {
    const session::TurnResult& result = choices[i];
    log_parse_errors(result);
    Json message = {{"role", "assistant"}};
    // OpenAI's convention: content is null when the turn is only tool calls.
    message["content"] = result.content.empty() && !result.tool_calls.empty() ? Json() : Json(result.content);
    if (!result.reasoning.empty()) message["reasoning_content"] = result.reasoning;
    if (!result.tool_calls.empty()) {
      message["tool_calls"] = Json::array();
      for (const chat::ToolCall& call : result.tool_calls)
        message["tool_calls"].push_back(tool_call_json(call));
    }
    out["choices"].push_back(
        {{"index", i},
         {"message", std::move(message)},
         {"logprobs", logprobs ? LogprobsJson(*logprobs).chat(result.logprobs) : Json()},
         {"finish_reason", session::finish_reason_name(result.finish)}});
  }
  return out;
}

std::string sse_event(const Json& data) {
  return "data: " + data.dump() + "\n\n";
}

std::string stream_end(Json chunk, bool include_usage, std::span<const session::TurnResult> choices) {
  if (!include_usage) return std::string(kSseDone);
  chunk["choices"] = Json::array();
  chunk["usage"] = usage_json(choices);
  return sse_event(chunk) + std::string(kSseDone);
}

ChunkEncoder::ChunkEncoder(CompletionMeta meta, bool include_usage, const tokenizer::Tokenizer* logprobs,
                           int64_t index)
    : meta_(std::move(meta)), include_usage_(include_usage), index_(index) {
  if (logprobs) logprobs_.emplace(*logprobs);
}

Json ChunkEncoder::take_logprobs(std::span<const TokenLogprob> tokens) {
  if (!logprobs_ || tokens.empty()) return nullptr;
  sent_ += tokens.size();
  return logprobs_->chat(tokens);
}

Json ChunkEncoder::chunk(Json delta, Json finish_reason) const {
  Json c = {{"id", meta_.id},
            {"object", "chat.completion.chunk"},
            {"created", meta_.created},
            {"model", meta_.model},
            {"choices",
             {{{"index", index_},
               {"delta", std::move(delta)},
               {"logprobs", nullptr},
               {"finish_reason", std::move(finish_reason)}}}}};
  // With include_usage every chunk carries "usage": null and one last chunk carries the numbers.
  if (include_usage_) c["usage"] = nullptr;
  return c;
}

std::string ChunkEncoder::error(std::string_view message) const {
  return sse_event(error_body(message, "server_error", "", ""));
}

std::string ChunkEncoder::begin() const {
  return sse_event(chunk({{"role", "assistant"}, {"content", ""}}, nullptr));
}

std::string ChunkEncoder::event(const chat::ParseEvent& event) {
  using Kind = chat::ParseEvent::Kind;
  switch (event.kind) {
    case Kind::kReasoning:
      return sse_event(chunk({{"reasoning_content", event.text}}, nullptr));
    case Kind::kContent: {
      Json c = chunk({{"content", event.text}}, nullptr);
      c["choices"][0]["logprobs"] = take_logprobs(pending_);
      pending_.clear();
      return sse_event(c);
    }
    case Kind::kToolCall: {
      Json call = tool_call_json(event.call);
      call["index"] = tool_index_++;
      return sse_event(chunk({{"tool_calls", Json::array({call})}}, nullptr));
    }
    case Kind::kError:
      log::warn("model output: {}", event.error.message);
      return "";
  }
  return "";
}

std::string ChunkEncoder::finish(const session::TurnResult& result) {
  Json last_choice = chunk(Json::object(), session::finish_reason_name(result.finish));
  // What no content chunk carried (tool-call markup, the tail), as far as a stop sequence left it.
  if (sent_ < result.logprobs.size())
    last_choice["choices"][0]["logprobs"] = take_logprobs(std::span(result.logprobs).subspan(sent_));
  return sse_event(last_choice);
}

std::string ChunkEncoder::close(std::span<const session::TurnResult> choices) const {
  return stream_end(chunk(Json::object(), nullptr), include_usage_, choices);
}

}  // namespace baleen::server
