#include "server/turn_memory.h"

#include <algorithm>

namespace baleen::server {
namespace {

std::vector<std::string> call_ids(const std::vector<chat::ToolCall>& calls) {
  std::vector<std::string> ids;
  for (const chat::ToolCall& c : calls) ids.push_back(c.id);
  return ids;
}

}  // namespace

std::string content_key(const std::string& content) {
  return "content:" + content;
}

chat::Message generated_turn(const session::TurnResult& result, std::vector<chat::ToolCall> calls) {
  chat::Message m = session::text_message(chat::Role::kAssistant, result.content);
  m.reasoning_content = result.reasoning;
  m.tool_calls = std::move(calls);
  return m;
}

void TurnMemory::remember(const session::TurnResult& result, std::vector<chat::ToolCall> calls, bool thinking,
                          const std::vector<std::string>& extra_keys) {
  Turn turn;
  turn.message = generated_turn(result, std::move(calls));
  turn.message.sampled = result.raw_text;
  turn.thinking = thinking;
  std::vector<std::string> keys = extra_keys;
  for (const chat::ToolCall& c : turn.message.tool_calls) keys.push_back(c.id);
  if (!result.content.empty()) keys.push_back(content_key(result.content));
  std::lock_guard lock(mutex_);
  turns_.push_back(std::move(turn));
  for (const std::string& k : keys)
    if (!k.empty()) keys_[k] = forgotten_ + turns_.size() - 1;
  while (turns_.size() > kMaxTurns) {
    turns_.pop_front();
    ++forgotten_;
    std::erase_if(keys_, [&](const auto& kv) { return kv.second < forgotten_; });
  }
}

void TurnMemory::restore(chat::Conversation& conversation, const std::vector<std::string>& keys,
                         bool thinking) const {
  std::lock_guard lock(mutex_);
  for (size_t i = 0; i < conversation.messages.size(); ++i) {
    chat::Message& m = conversation.messages[i];
    if (m.role != chat::Role::kAssistant) continue;
    std::vector<std::string> candidates = call_ids(m.tool_calls);
    if (i < keys.size()) candidates.push_back(keys[i]);
    if (!m.content.empty()) candidates.push_back(content_key(m.content));
    for (const std::string& k : candidates) {
      const auto it = keys_.find(k);
      if (k.empty() || it == keys_.end()) continue;
      const Turn& turn = turns_[it->second - forgotten_];
      if (turn.thinking != thinking || call_ids(turn.message.tool_calls) != call_ids(m.tool_calls)) continue;
      m.content = turn.message.content;
      m.reasoning_content = turn.message.reasoning_content;
      m.tool_calls = turn.message.tool_calls;
      m.sampled = turn.message.sampled;
      break;
    }
  }
}

}  // namespace baleen::server
