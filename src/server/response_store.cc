#include "server/response_store.h"

namespace baleen::server {

void ResponseStore::put(const std::string& id, chat::Json response, chat::Conversation history) {
  std::lock_guard lock(mutex_);
  if (stored_.insert_or_assign(id, Stored{std::move(response), std::move(history)}).second) order_.push_back(id);
  while (order_.size() > kMaxResponses) {
    stored_.erase(order_.front());
    order_.pop_front();
  }
}

std::optional<chat::Json> ResponseStore::response(const std::string& id) const {
  std::lock_guard lock(mutex_);
  const auto it = stored_.find(id);
  if (it == stored_.end()) return std::nullopt;
  return it->second.response;
}

std::optional<chat::Conversation> ResponseStore::history(const std::string& id) const {
  std::lock_guard lock(mutex_);
  const auto it = stored_.find(id);
  if (it == stored_.end()) return std::nullopt;
  return it->second.history;
}

}  // namespace baleen::server
