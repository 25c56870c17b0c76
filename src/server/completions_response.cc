#include "server/completions_response.h"

#include "server/api_error.h"

namespace baleen::server {

using chat::Json;

Json text_completion_json(const CompletionMeta& meta, std::span<const session::TurnResult> choices,
                          const std::string& echoed, const tokenizer::Tokenizer* logprobs) {
  Json out = {{"id", meta.id},
              {"object", "text_completion"},
              {"created", meta.created},
              {"model", meta.model},
              {"choices", Json::array()},
              {"usage", usage_json(choices)}};
  for (size_t i = 0; i < choices.size(); ++i)
    out["choices"].push_back(
        {{"index", i},
         {"text", echoed + choices[i].content},
         {"logprobs", logprobs ? LogprobsJson(*logprobs, static_cast<int64_t>(echoed.size()))
                                     .text(choices[i].logprobs)
                               : Json()},
         {"finish_reason", session::finish_reason_name(choices[i].finish)}});
  return out;
}

TextChunkEncoder::TextChunkEncoder(CompletionMeta meta, bool include_usage, std::string echoed,
                                   const tokenizer::Tokenizer* logprobs, int64_t index)
    : meta_(std::move(meta)), include_usage_(include_usage), echoed_(std::move(echoed)), index_(index) {
  if (logprobs) logprobs_.emplace(*logprobs, static_cast<int64_t>(echoed_.size()));
}

Json TextChunkEncoder::take_logprobs(std::span<const TokenLogprob> tokens) {
  if (!logprobs_ || tokens.empty()) return nullptr;
  sent_ += tokens.size();
  return logprobs_->text(tokens);
}

Json TextChunkEncoder::chunk(const std::string& text, Json finish_reason) const {
  Json c = {{"id", meta_.id},
            {"object", "text_completion"},
            {"created", meta_.created},
            {"model", meta_.model},
            {"choices",
             {{{"index", index_}, {"text", text}, {"logprobs", nullptr}, {"finish_reason", std::move(finish_reason)}}}}};
  if (include_usage_) c["usage"] = nullptr;
  return c;
}

std::string TextChunkEncoder::begin() const {
  return echoed_.empty() ? "" : sse_event(chunk(echoed_, nullptr));
}

std::string TextChunkEncoder::event(const chat::ParseEvent& event) {
  if (event.text.empty()) return "";
  Json c = chunk(event.text, nullptr);
  c["choices"][0]["logprobs"] = take_logprobs(pending_);
  pending_.clear();
  return sse_event(c);
}

std::string TextChunkEncoder::finish(const session::TurnResult& result) {
  Json last_choice = chunk("", session::finish_reason_name(result.finish));
  if (sent_ < result.logprobs.size())
    last_choice["choices"][0]["logprobs"] = take_logprobs(std::span(result.logprobs).subspan(sent_));
  return sse_event(last_choice);
}

std::string TextChunkEncoder::close(std::span<const session::TurnResult> choices) const {
  return stream_end(chunk("", nullptr), include_usage_, choices);
}

std::string TextChunkEncoder::error(std::string_view message) const {
  return sse_event(error_body(message, "server_error", "", ""));
}

}  // namespace baleen::server
