#include "server/response_store.h"

#include "core/error.h"
#include "core/log.h"

namespace baleen::server {
namespace {

using chat::Json;

// Each record's payload says what it is, so that another log put in its place is not taken for ours.
constexpr const char* kFormat = "baleen-stored-response-1";

Json message_json(const chat::Message& m) {
  Json calls = Json::array();
  for (const chat::ToolCall& c : m.tool_calls)
    calls.push_back({{"id", c.id}, {"name", c.name}, {"arguments", c.arguments}});
  return {{"role", static_cast<int>(m.role)},         {"content", m.content},
          {"reasoning_content", m.reasoning_content}, {"tool_calls", calls},
          {"tool_call_id", m.tool_call_id},           {"tools", m.tools},
          {"response_format", m.response_format},     {"sampled", m.sampled}};
}

chat::Message message_from(const Json& j) {
  chat::Message m;
  const int role = j.at("role").get<int>();
  check(role >= 0 && role <= static_cast<int>(chat::Role::kTool), "role {}", role);
  m.role = static_cast<chat::Role>(role);
  m.content = j.at("content").get<std::string>();
  m.reasoning_content = j.at("reasoning_content").get<std::string>();
  for (const Json& c : j.at("tool_calls"))
    m.tool_calls.push_back(
        {c.at("id").get<std::string>(), c.at("name").get<std::string>(), c.at("arguments")});
  m.tool_call_id = j.at("tool_call_id").get<std::string>();
  m.tools = j.at("tools");
  m.response_format = j.at("response_format");
  m.sampled = j.at("sampled").get<std::string>();
  return m;
}

std::string record(const std::string& id, const Json& response, const chat::Conversation& history) {
  Json messages = Json::array();
  for (const chat::Message& m : history.messages) messages.push_back(message_json(m));
  return Json{{"format", kFormat}, {"id", id}, {"response", response}, {"history", messages}}.dump();
}

}  // namespace

ResponseStore::ResponseStore(const std::optional<std::filesystem::path>& file) {
  if (!file) return;
  file_ = *file;
  if (std::filesystem::exists(file_)) {
    try {
      trajectory::TrajectoryLog::read(file_.string());  // only a torn tail is repaired, at open
    } catch (const Error& e) {
      const std::filesystem::path bad = file_.string() + ".bad";
      log::warn("stored responses: {}: not used, renamed to {}", e.what(), bad.string());
      std::filesystem::rename(file_, bad);
    }
  }
  log_.emplace(trajectory::TrajectoryLog::open(file_.string()));
  size_t skipped = 0;
  for (const std::string& payload : log_->payloads()) {
    try {
      const Json j = Json::parse(payload);
      check(j.at("format") == kFormat, "format {}", j.at("format").dump());
      chat::Conversation history;
      for (const Json& m : j.at("history")) history.messages.push_back(message_from(m));
      keep(j.at("id").get<std::string>(), {j.at("response"), std::move(history)});
    } catch (const std::exception& e) {  // checksummed, so written by something else: never trusted
      ++skipped;
      log::warn("stored responses: {}: a record skipped: {}", file_.string(), e.what());
    }
  }
  logged_ = log_->payloads().size();
  log::info("stored responses: {} loaded from {} ({} records skipped)", stored_.size(), file_.string(),
            skipped);
  if (logged_ > stored_.size()) compact();
}

void ResponseStore::put(const std::string& id, chat::Json response, chat::Conversation history) {
  std::lock_guard lock(mutex_);
  if (log_) {
    log_->append(record(id, response, history));
    ++logged_;
  }
  keep(id, {std::move(response), std::move(history)});
  if (log_ && logged_ >= 4 * kMaxResponses) compact();
}

void ResponseStore::keep(const std::string& id, Stored stored) {
  if (stored_.insert_or_assign(id, std::move(stored)).second) order_.push_back(id);
  while (order_.size() > kMaxResponses) {
    stored_.erase(order_.front());
    order_.pop_front();
  }
}

// The log rewritten with the kept responses only, beside it and then renamed over it: a kill -9 meanwhile
// leaves the old log, which holds them too.
void ResponseStore::compact() {
  const std::string next = file_.string() + ".next";
  std::filesystem::remove(next);
  {
    trajectory::TrajectoryLog fresh = trajectory::TrajectoryLog::open(next);
    for (const std::string& id : order_)
      fresh.append(record(id, stored_.at(id).response, stored_.at(id).history));
  }
  std::filesystem::rename(next, file_);
  log_.emplace(trajectory::TrajectoryLog::open(file_.string()));
  logged_ = order_.size();
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

size_t ResponseStore::size() const {
  std::lock_guard lock(mutex_);
  return stored_.size();
}

}  // namespace baleen::server
