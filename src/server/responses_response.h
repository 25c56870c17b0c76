// OpenAI Responses bodies built from a model turn. One ResponseBuilder turns the turn's parse events into
// output items (reasoning with reasoning_text content, an assistant message with output_text, a
// function_call or custom_tool_call per call) and, for streaming, into the events between them
// (response.output_item.added / content_part.added / *.delta / *.done / output_item.done, each with a
// sequence_number); the final response object carries exactly the streamed items, with the same ids. With
// logprobs, the message's output_text part carries its tokens' (Chat Completions' entries).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "chat/python_json.h"
#include "server/logprobs_json.h"
#include "session/turn_runner.h"

namespace baleen::server {

struct ResponseMeta {
  std::string id;  // "resp_..."
  int64_t created_at = 0;
  std::string model;
  chat::Json echo;                     // the request's settings (ResponsesRequest::echo)
  std::set<std::string> custom_tools;  // calls of these are custom_tool_call items
  std::map<std::string, std::pair<std::string, std::string>> namespaced;  // flattened name -> (ns, name)
  const tokenizer::Tokenizer* logprobs = nullptr;  // the request asked for the output text's logprobs
  // The request asked for a reasoning summary: the reasoning item's summary is its whole text, streamed
  // as reasoning_summary_text beside reasoning_text (Codex shows the summary by default; there is no
  // summarizer, and V4's reasoning is what DeepSeek returns).
  bool summary = false;
};

// {input_tokens, input_tokens_details {cached_tokens}, output_tokens, output_tokens_details, total_tokens}
chat::Json responses_usage(const session::TurnResult& result);

class ResponseBuilder {
 public:
  explicit ResponseBuilder(ResponseMeta meta);

  // response.created and response.in_progress.
  std::string begin();
  std::string prompt(int64_t, int64_t) const { return ""; }
  std::string event(const chat::ParseEvent& event);
  // An answer token's logprob (with meta.logprobs): it rides on the next output_text delta, or on the
  // message's done event; tokens sampled while no message is open (a tool call's markup) are dropped.
  void logprob(const TokenLogprob& token);
  // Closes the open item; response.completed, or response.incomplete when max_output_tokens cut the turn.
  std::string finish(const session::TurnResult& result);
  // response.failed with this error code and message (context_length_exceeded, server_error).
  std::string failed(std::string_view code, std::string_view message);
  std::string error(std::string_view message) { return failed("server_error", message); }

  // The response object: status in_progress before finish(), then completed / incomplete / failed.
  const chat::Json& response() const { return response_; }
  // The ids of the reasoning and message items of this response (exact replay keys).
  std::vector<std::string> item_ids() const;

 private:
  enum class Item { kNone, kReasoning, kMessage };
  std::string emit(std::string type, chat::Json fields);
  std::string open(Item kind);
  std::string close();
  std::string call(const chat::ToolCall& call);
  chat::Json take_logprobs();

  ResponseMeta meta_;
  chat::Json response_;
  int64_t sequence_ = 0;
  Item open_ = Item::kNone;
  std::string text_;  // of the open item
  std::optional<LogprobsJson> logprobs_;
  std::vector<TokenLogprob> pending_;  // not yet sent
};

}  // namespace baleen::server
