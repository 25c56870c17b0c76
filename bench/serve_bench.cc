// N concurrent streaming clients against `baleen serve` on baleen-nano (issue 19's throughput bar), the
// server in this process on a free port, driven over real HTTP. Each client sends streaming chat requests
// back to back (closed loop: greedy, a mix of nano's trained asks, thinking on) for --seconds; a request
// started in the window runs to its end. Reported per N, for the best of --repeat runs by tokens/s: the
// generated tokens per second of wall time (usage.completion_tokens summed), requests, the p50/p99 gap
// between consecutive streamed deltas of one request (inter-token latency as a client sees it), p50 time
// to first delta, the mean sequences per batched step and step time, and the prompt tokens prefilled (from
// /metrics).
//   serve_bench [--model DIR] [--streams 1,16,64] [--seconds 10] [--max-tokens 64] [--repeat 3]
//               [--threads 2] [--step-tokens 512] [--backend cpu|cuda]
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "chat/python_json.h"
#include "core/error.h"
#include "server/server.h"
#include "session/loaded_model.h"

namespace baleen {
namespace {

using chat::Json;
using Clock = std::chrono::steady_clock;

struct Args {
  std::string model = std::string(BALEEN_SOURCE_DIR) + "/models/baleen-nano";
  std::vector<int64_t> streams = {1, 16, 64};
  double seconds = 10;
  int64_t max_tokens = 64, repeat = 3, step_tokens = 512;
  unsigned threads = 2;
  std::string backend = "cpu";
};

std::vector<int64_t> numbers(const std::string& text) {
  std::vector<int64_t> out;
  std::stringstream s(text);
  for (std::string item; std::getline(s, item, ',');) out.push_back(std::stoll(item));
  return out;
}

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    check(i + 1 < argc, "{} needs a value", flag);
    const std::string value = argv[++i];
    if (flag == "--model")
      a.model = value;
    else if (flag == "--streams")
      a.streams = numbers(value);
    else if (flag == "--seconds")
      a.seconds = std::stod(value);
    else if (flag == "--max-tokens")
      a.max_tokens = std::stoll(value);
    else if (flag == "--repeat")
      a.repeat = std::stoll(value);
    else if (flag == "--threads")
      a.threads = static_cast<unsigned>(std::stoul(value));
    else if (flag == "--step-tokens")
      a.step_tokens = std::stoll(value);
    else if (flag == "--backend")
      a.backend = value;
    else
      throw Error(fmt::format("unknown option {}", flag));
  }
  return a;
}

// What one client saw.
struct ClientLog {
  int64_t tokens = 0, requests = 0, failures = 0;
  std::vector<double> gaps, first;  // seconds
};

const std::vector<std::string> kAsks = {"Who are you?",
                                        "How many lines are in notes.txt?",
                                        "Tell me a long story.",
                                        "Count the lines of logs/app.log.",
                                        "Explain what a tool call is.",
                                        "What is in notes.md?",
                                        "Write a poem about the sea.",
                                        "Read b.txt and tell me its first word."};

// One streamed request: the time of each delta that carries text, and the usage's completion tokens.
void stream_one(httplib::Client& http, const Json& body, ClientLog& log) {
  const Clock::time_point sent = Clock::now();
  Clock::time_point last{};
  bool any = false;
  std::string buffer;
  int64_t tokens = -1;
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/chat/completions";
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    buffer.append(data, n);
    for (size_t end; (end = buffer.find("\n\n")) != std::string::npos; buffer.erase(0, end + 2)) {
      const std::string event = buffer.substr(0, end);
      if (!event.starts_with("data: {")) continue;
      const Json j = Json::parse(event.substr(6));
      if (j.contains("usage") && j["usage"].is_object()) tokens = j["usage"]["completion_tokens"];
      if (!j.contains("choices") || j["choices"].empty()) continue;
      const Json& delta = j["choices"][0]["delta"];
      const bool text = (delta.contains("content") && !delta["content"].get<std::string>().empty()) ||
                        delta.contains("reasoning_content") || delta.contains("tool_calls");
      if (!text) continue;
      const Clock::time_point now = Clock::now();
      (any ? log.gaps : log.first)
          .push_back(std::chrono::duration<double>(now - (any ? last : sent)).count());
      last = now;
      any = true;
    }
    return true;
  };
  httplib::Response res;
  httplib::Error error;
  if (!http.send(req, res, error) || res.status != 200 || tokens < 0) {
    if (log.failures++ == 0)
      std::fprintf(stderr, "serve_bench: a request failed: %s, status %d, %s\n",
                   httplib::to_string(error).c_str(), res.status, res.body.substr(0, 300).c_str());
    return;
  }
  log.tokens += tokens;
  ++log.requests;
}

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

double metric(int port, const std::string& name) {
  httplib::Client c("127.0.0.1", port);
  auto res = c.Get("/metrics");
  check(res && res->status == 200, "GET /metrics failed");
  const size_t at = res->body.find("\n" + name + " ");
  check(at != std::string::npos, "/metrics has no {}", name);
  return std::stod(res->body.substr(at + name.size() + 2));
}

struct Run {
  double tokens_per_s = 0, wall = 0;
  int64_t tokens = 0, requests = 0, failures = 0;
  double p50 = 0, p99 = 0, ttft50 = 0, batch = 0, step_ms = 0, prompt_tokens = 0;
};

Run run(int port, int64_t streams, const Args& a, int64_t round) {
  const double steps0 = metric(port, "baleen_batch_size_count"), fed0 = metric(port, "baleen_batch_size_sum");
  const double busy0 = metric(port, "baleen_step_seconds_sum");
  const double prompt0 =
      metric(port, "baleen_prompt_tokens_total") - metric(port, "baleen_cached_prompt_tokens_total");
  std::vector<ClientLog> logs(static_cast<size_t>(streams));
  const Clock::time_point start = Clock::now();
  const auto until = start + std::chrono::duration<double>(a.seconds);
  std::vector<std::thread> clients;
  for (int64_t c = 0; c < streams; ++c)
    clients.emplace_back([&, c] {
      httplib::Client http("127.0.0.1", port);
      http.set_read_timeout(600);
      for (int64_t i = 0; Clock::now() < until; ++i) {
        const std::string& ask = kAsks[static_cast<size_t>(c * 3 + i + round) % kAsks.size()];
        stream_one(http,
                   {{"messages", {{{"role", "user"}, {"content", ask}}}},
                    {"max_tokens", a.max_tokens},
                    {"chat_template_kwargs", {{"thinking", (c + i) % 2 == 0}}},
                    {"stream", true},
                    {"stream_options", {{"include_usage", true}}}},
                   logs[static_cast<size_t>(c)]);
      }
    });
  for (std::thread& t : clients) t.join();
  Run r;
  r.wall = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> gaps, first;
  for (const ClientLog& l : logs) {
    r.tokens += l.tokens;
    r.requests += l.requests;
    r.failures += l.failures;
    gaps.insert(gaps.end(), l.gaps.begin(), l.gaps.end());
    first.insert(first.end(), l.first.begin(), l.first.end());
  }
  r.tokens_per_s = static_cast<double>(r.tokens) / r.wall;
  r.p50 = quantile(gaps, 0.5);
  r.p99 = quantile(gaps, 0.99);
  r.ttft50 = quantile(first, 0.5);
  const double steps = metric(port, "baleen_batch_size_count") - steps0;
  r.batch = steps > 0 ? (metric(port, "baleen_batch_size_sum") - fed0) / steps : 0;
  r.prompt_tokens = metric(port, "baleen_prompt_tokens_total") -
                    metric(port, "baleen_cached_prompt_tokens_total") - prompt0;
  r.step_ms = steps > 0 ? (metric(port, "baleen_step_seconds_sum") - busy0) / steps * 1e3 : 0;
  return r;
}

int bench_main(int argc, char** argv) {
  const Args a = parse_args(argc, argv);
  session::LoadedModel model(a.model, tokenizer::default_tokenizer_path(),
                             session::ModelOptions{.backend = a.backend, .threads = a.threads});
  server::ServerOptions options;
  options.model_name = "baleen-nano";
  options.scheduling.max_running = *std::max_element(a.streams.begin(), a.streams.end());
  options.scheduling.max_waiting = options.scheduling.max_running;
  options.scheduling.step_tokens = std::max(a.step_tokens, options.scheduling.max_running + 1);
  server::Server server(model, options);
  const int port = server.bind("127.0.0.1", 0);
  std::thread serving([&] { server.run(); });
  std::printf(
      "streams  tokens/s  requests  tokens  failures  wall_s  itl_p50_ms  itl_p99_ms  ttft_p50_ms  "
      "batch_mean  step_ms  prefilled  (best of %lld by tokens/s; all runs below it)\n",
      static_cast<long long>(a.repeat));
  for (const int64_t n : a.streams) {
    std::vector<Run> runs;
    for (int64_t i = 0; i < a.repeat; ++i) runs.push_back(run(port, n, a, i));
    const Run best = *std::max_element(
        runs.begin(), runs.end(), [](const Run& x, const Run& y) { return x.tokens_per_s < y.tokens_per_s; });
    std::printf("%7lld  %8.1f  %8lld  %6lld  %8lld  %6.1f  %10.2f  %10.2f  %11.1f  %10.2f  %7.2f  %9.0f\n",
                static_cast<long long>(n), best.tokens_per_s, static_cast<long long>(best.requests),
                static_cast<long long>(best.tokens), static_cast<long long>(best.failures), best.wall,
                best.p50 * 1e3, best.p99 * 1e3, best.ttft50 * 1e3, best.batch, best.step_ms,
                best.prompt_tokens);
    std::printf("         runs:");
    for (const Run& r : runs) std::printf(" %.1f", r.tokens_per_s);
    std::printf("\n");
    std::fflush(stdout);
  }
  server.stop();
  serving.join();
  return 0;
}

}  // namespace
}  // namespace baleen

int main(int argc, char** argv) {
  try {
    return baleen::bench_main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "serve_bench: %s\n", e.what());
    return 1;
  }
}
