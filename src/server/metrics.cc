#include "server/metrics.h"

#include <fmt/format.h>

#include <array>

namespace baleen::server {
namespace {

std::string route_label(std::string_view path) {
  path = path.substr(0, path.find('?'));
  static constexpr std::array kRoutes = {"/health",
                                         "/metrics",
                                         "/v1/models",
                                         "/v1/chat/completions",
                                         "/v1/completions",
                                         "/v1/messages",
                                         "/v1/messages/count_tokens",
                                         "/v1/responses"};
  for (const char* r : kRoutes)
    if (path == r) return r;
  if (path.starts_with("/v1/models/")) return "/v1/models/{id}";
  if (path.starts_with("/v1/responses/")) return "/v1/responses/{id}";
  return "other";
}

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void single(std::string& out, std::string_view name, std::string_view type, std::string_view help,
            int64_t value) {
  header(out, name, type, help);
  out += fmt::format("{} {}\n", name, value);
}

void histogram(std::string& out, std::string_view name, std::string_view help, const Histogram& h) {
  header(out, name, "histogram", help);
  int64_t below = 0;
  for (size_t i = 0; i < h.bounds.size(); ++i) {
    below += h.counts[i];
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, h.bounds[i], below);
  }
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n", name, h.count, name, h.sum,
                     name, h.count);
}

}  // namespace

void RequestCounts::count(std::string_view path, int status) {
  std::lock_guard lock(mutex_);
  ++counts_[{route_label(path), status}];
}

std::map<std::pair<std::string, int>, int64_t> RequestCounts::snapshot() const {
  std::lock_guard lock(mutex_);
  return counts_;
}

std::string metrics_text(const RequestCounts& requests, const session::SchedulerStats& s) {
  std::string out;
  header(out, "baleen_requests_total", "counter", "HTTP requests answered, by route and status.");
  for (const auto& [key, n] : requests.snapshot())
    out += fmt::format("baleen_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", key.first, key.second, n);
  header(out, "baleen_generations_total", "counter", "Generations ended, by outcome.");
  out += fmt::format("baleen_generations_total{{outcome=\"completed\"}} {}\n", s.completed);
  out += fmt::format("baleen_generations_total{{outcome=\"interrupted\"}} {}\n", s.interrupted);
  out += fmt::format("baleen_generations_total{{outcome=\"failed\"}} {}\n", s.failed);
  single(out, "baleen_preemptions_total", "counter",
         "Running generations parked over the state memory budget (resumed by recomputing).", s.preemptions);
  single(out, "baleen_rejected_total", "counter", "Generations refused because the queue was full (429).",
         s.rejected);
  single(out, "baleen_prompt_tokens_total", "counter", "Prompt tokens of admitted generations.",
         s.prompt_tokens);
  single(out, "baleen_cached_prompt_tokens_total", "counter",
         "Prompt tokens resumed from the prefix cache instead of prefilled.", s.cached_tokens);
  single(out, "baleen_generated_tokens_total", "counter", "Tokens sampled.", s.generated_tokens);
  single(out, "baleen_steps_total", "counter", "Batched forward passes.", s.steps);
  single(out, "baleen_running_sequences", "gauge", "Generations in the running batch.", s.running);
  single(out, "baleen_waiting_sequences", "gauge", "Generations queued for a batch slot.", s.waiting);
  single(out, "baleen_state_memory_bytes", "gauge",
         "Session state memory in use (running sequences and the prefix cache; shared pages counted once).",
         s.state_bytes);
  single(out, "baleen_prefix_cache_evictions_total", "counter", "Cached session states evicted.",
         s.cache_evictions);
  single(out, "baleen_prefix_cache_entries", "gauge", "Session states kept for prefix reuse.",
         s.cache_entries);
  single(out, "baleen_prefix_cache_disk_entries", "gauge", "Session states kept on disk (--state-dir).",
         s.disk_entries);
  single(out, "baleen_prefix_cache_disk_bytes", "gauge", "Bytes of the entry files on disk (--state-dir).",
         s.disk_bytes);
  single(out, "baleen_prefix_cache_disk_evictions_total", "counter",
         "Entry files deleted to stay within --cache-disk.", s.disk_evictions);
  histogram(out, "baleen_batch_size", "Sequences fed per batched forward pass.", s.batch_size);
  histogram(out, "baleen_step_seconds", "One batched forward pass and its sampling.", s.step_seconds);
  histogram(out, "baleen_time_to_first_token_seconds", "From submission to the first sampled token.",
            s.ttft_seconds);
  histogram(out, "baleen_inter_token_latency_seconds", "Between consecutive tokens of one generation.",
            s.itl_seconds);
  return out;
}

}  // namespace baleen::server
