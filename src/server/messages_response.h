// Anthropic Messages response bodies built from a model turn: the whole `message` object, and for
// streaming the named SSE events in the order the official SDK's MessageStream accepts: one message_start
// (usage known), ping, content blocks with strictly sequential indexes whose deltas match their type
// (thinking closed by its signature_delta before text or tool_use opens), message_delta (stop_reason,
// usage), message_stop. Reasoning is a thinking block whose signature names the message it came from.
#pragma once

#include <string>

#include "chat/python_json.h"
#include "session/turn_runner.h"

namespace baleen::server {

struct MessageMeta {
  std::string id;  // "msg_..."
  std::string model;
};

// The tool_use id of a parser call id ("call_X" -> "toolu_X"), the spelling Anthropic clients expect.
std::string tool_use_id(const std::string& call_id);
// The signature of a message's thinking block: the key a re-sent thinking block is recognised by.
std::string thinking_signature(const MessageMeta& meta);
// end_turn, max_tokens, stop_sequence, tool_use.
std::string_view stop_reason(session::FinishReason finish);

// Anthropic usage: input_tokens counts only the prompt tokens that were not reused from the session
// state; those are cache_read_input_tokens.
chat::Json messages_usage(const session::TurnResult& result);
chat::Json message_json(const MessageMeta& meta, const session::TurnResult& result);

// One named SSE event: "event: <name>\ndata: <json>\n\n".
std::string named_event(std::string_view name, const chat::Json& data);

// Turns one turn's parse events into Messages stream events; one encoder per streamed response.
class MessageStreamEncoder {
 public:
  explicit MessageStreamEncoder(MessageMeta meta);

  std::string begin() const { return ""; }  // message_start waits for the prompt's usage
  // message_start (with the prompt's usage) and a ping.
  std::string prompt(int64_t prompt_tokens, int64_t reused_tokens) const;
  std::string event(const chat::ParseEvent& event);  // empty for parse errors (logged)
  std::string finish(const session::TurnResult& result);  // closes the open block, message_delta, message_stop
  std::string error(std::string_view message) const;  // event: error, api_error

 private:
  enum class Block { kNone, kThinking, kText };
  std::string open(Block kind, chat::Json block);
  std::string close();

  MessageMeta meta_;
  Block open_ = Block::kNone;
  int index_ = -1;  // of the block started last
};

}  // namespace baleen::server
