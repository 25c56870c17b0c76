// GET /metrics: the server's counters in Prometheus' text format (version 0.0.4) — requests by route and
// status, prompt / cached / generated tokens, generations by outcome, running and waiting sequences,
// sequences per batched step, time to first token and inter-token latency, session state memory.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "session/scheduler.h"

namespace baleen::server {

// Answered requests by route and status; a route is a known path (ids collapsed: /v1/responses/{id}) or
// "other", so unknown paths cannot grow the label set. Thread-safe.
class RequestCounts {
 public:
  void count(std::string_view path, int status);
  std::map<std::pair<std::string, int>, int64_t> snapshot() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, int64_t> counts_;
};

std::string metrics_text(const RequestCounts& requests, const session::SchedulerStats& stats);

}  // namespace baleen::server
