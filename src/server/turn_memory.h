// The assistant turns this server generated, kept under the keys a client sends them back with (tool-call
// ids, a thinking signature, a response item id, or the answer's text): restore() puts the sampled turn
// back in place of the client's copy, so a re-sent history renders to exactly the tokens the session state
// holds even when the client dropped the reasoning, reordered JSON keys or reformatted the arguments.
// Bounded (oldest forgotten first); thread-safe.
#pragma once

#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "chat/conversation.h"
#include "session/turn_runner.h"

namespace baleen::server {

class TurnMemory {
 public:
  // Keeps the turn (its tool calls carrying the ids the client was sent) under its tool-call ids, its
  // content text and `extra_keys`. `thinking`: the turn was sampled in thinking mode.
  void remember(const session::TurnResult& result, std::vector<chat::ToolCall> calls, bool thinking,
                const std::vector<std::string>& extra_keys);
  // Restores every assistant message of `conversation` that carries a known key; `keys[i]` (when present)
  // is an extra key of message i. Only turns sampled in the request's mode (`thinking`) are restored, and
  // only when the message's tool-call ids are the remembered ones.
  void restore(chat::Conversation& conversation, const std::vector<std::string>& keys, bool thinking) const;

 private:
  struct Turn {
    chat::Message message;  // reasoning, content, calls and the sampled text
    bool thinking = false;
  };
  static constexpr size_t kMaxTurns = 512;

  mutable std::mutex mutex_;
  std::deque<Turn> turns_;              // oldest first; an index is stable until the turn is forgotten
  size_t forgotten_ = 0;                // turns dropped from the front so far
  std::map<std::string, size_t> keys_;  // key -> forgotten_ + index at insertion
};

// The assistant message of a generated turn (reasoning, content, these calls), as history.
chat::Message generated_turn(const session::TurnResult& result, std::vector<chat::ToolCall> calls);

// The key of a turn's answer text.
std::string content_key(const std::string& content);

}  // namespace baleen::server
