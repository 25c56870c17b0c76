// Responses kept for GET /v1/responses/{id} and previous_response_id (store: true): the response object and
// the conversation it ended with (its input history and the generated turn). Bounded, oldest forgotten
// first; in memory only, so a restart forgets them. Thread-safe.
#pragma once

#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "chat/conversation.h"

namespace baleen::server {

class ResponseStore {
 public:
  void put(const std::string& id, chat::Json response, chat::Conversation history);
  std::optional<chat::Json> response(const std::string& id) const;
  std::optional<chat::Conversation> history(const std::string& id) const;

 private:
  static constexpr size_t kMaxResponses = 256;
  struct Stored {
    chat::Json response;
    chat::Conversation history;
  };
  mutable std::mutex mutex_;
  std::map<std::string, Stored> stored_;
  std::deque<std::string> order_;  // oldest first
};

}  // namespace baleen::server
