#include "server/completions_response.h"

#include "server/api_error.h"

namespace baleen::server {

using chat::Json;

Json text_completion_json(const CompletionMeta& meta, const session::TurnResult& result,
                          const std::string& echoed) {
  return {{"id", meta.id},
          {"object", "text_completion"},
          {"created", meta.created},
          {"model", meta.model},
          {"choices",
           {{{"index", 0},
             {"text", echoed + result.content},
             {"logprobs", nullptr},
             {"finish_reason", session::finish_reason_name(result.finish)}}}},
          {"usage", usage_json(result)}};
}

TextChunkEncoder::TextChunkEncoder(CompletionMeta meta, bool include_usage, std::string echoed)
    : meta_(std::move(meta)), include_usage_(include_usage), echoed_(std::move(echoed)) {}

Json TextChunkEncoder::chunk(const std::string& text, Json finish_reason) const {
  Json c = {{"id", meta_.id},
            {"object", "text_completion"},
            {"created", meta_.created},
            {"model", meta_.model},
            {"choices",
             {{{"index", 0}, {"text", text}, {"logprobs", nullptr}, {"finish_reason", std::move(finish_reason)}}}}};
  if (include_usage_) c["usage"] = nullptr;
  return c;
}

std::string TextChunkEncoder::begin() const {
  return echoed_.empty() ? "" : sse_event(chunk(echoed_, nullptr));
}

std::string TextChunkEncoder::event(const chat::ParseEvent& event) const {
  return event.text.empty() ? "" : sse_event(chunk(event.text, nullptr));
}

std::string TextChunkEncoder::finish(const session::TurnResult& result) const {
  std::string out = sse_event(chunk("", session::finish_reason_name(result.finish)));
  if (include_usage_) {
    Json last = chunk("", nullptr);
    last["choices"] = Json::array();
    last["usage"] = usage_json(result);
    out += sse_event(last);
  }
  return out + std::string(kSseDone);
}

std::string TextChunkEncoder::error(std::string_view message) const {
  return sse_event(error_body(message, "server_error", "", ""));
}

}  // namespace baleen::server
