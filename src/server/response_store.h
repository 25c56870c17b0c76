// Responses kept for GET /v1/responses/{id} and previous_response_id (store: true): the response object and
// the conversation it ended with (its input history and the generated turn). Bounded, oldest forgotten
// first. With a file (`--state-dir`/responses.log) each put is appended to it durably (a checksummed record,
// fdatasync'd before put returns: trajectory/trajectory_log.h) and the store reloads it when opened, so a
// restart keeps them; a kill -9 loses at most the put under way. A log that cannot be read (corrupt before
// its tail) is reported, renamed to `<file>.bad` and replaced by an empty one; a record not of ours is
// reported and skipped. One process at a time holds the file (flock). Thread-safe.
#pragma once

#include <cstddef>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "chat/conversation.h"
#include "trajectory/trajectory_log.h"

namespace baleen::server {

class ResponseStore {
 public:
  // Kept in `file` too, when given. Error when it cannot be created, or another process holds it.
  explicit ResponseStore(const std::optional<std::filesystem::path>& file = std::nullopt);

  void put(const std::string& id, chat::Json response, chat::Conversation history);
  std::optional<chat::Json> response(const std::string& id) const;
  std::optional<chat::Conversation> history(const std::string& id) const;
  size_t size() const;

 private:
  static constexpr size_t kMaxResponses = 256;
  struct Stored {
    chat::Json response;
    chat::Conversation history;
  };
  void keep(const std::string& id, Stored stored);  // under mutex_
  void compact();                                   // under mutex_

  mutable std::mutex mutex_;
  std::map<std::string, Stored> stored_;
  std::deque<std::string> order_;  // oldest first
  std::filesystem::path file_;
  std::optional<trajectory::TrajectoryLog> log_;
  size_t logged_ = 0;  // records in the log: rewritten with the kept ones when it reaches 4 × kMaxResponses
};

}  // namespace baleen::server
