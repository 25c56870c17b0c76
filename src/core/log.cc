#include "core/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace baleen::log {
namespace {

Level level_from_env() {
  const char* v = std::getenv("BALEEN_LOG");
  if (v == nullptr) return Level::kInfo;
  if (std::strcmp(v, "debug") == 0) return Level::kDebug;
  if (std::strcmp(v, "warn") == 0) return Level::kWarn;
  if (std::strcmp(v, "error") == 0) return Level::kError;
  return Level::kInfo;
}

std::atomic<Level>& current() {
  static std::atomic<Level> value{level_from_env()};
  return value;
}

const char* tag(Level level) {
  switch (level) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "?";
}

}  // namespace

Level level() { return current().load(std::memory_order_relaxed); }
void set_level(Level level) { current().store(level, std::memory_order_relaxed); }

void write(Level level, std::string_view message) {
  static std::mutex mutex;
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const double seconds = std::chrono::duration<double>(now).count();
  std::lock_guard lock(mutex);
  std::fprintf(stderr, "[%.3f %s] %.*s\n", seconds, tag(level), static_cast<int>(message.size()),
               message.data());
}

}  // namespace baleen::log
