// `baleen serve`: the OpenAI-compatible HTTP server (server/server.h) over one model (default: the
// committed baleen-nano). The run/chat options set the defaults of requests that leave them out.
// SIGINT/SIGTERM stop it gracefully: no new connections, the running generation is interrupted.
#include <pthread.h>

#include <csignal>
#include <map>
#include <optional>
#include <thread>

#include "app/chat_options.h"
#include "app/command.h"
#include "core/log.h"
#include "server/server.h"
#include "session/loaded_model.h"

namespace baleen::app {
namespace {

struct Options {
  ChatOptions chat;
  std::string host = "127.0.0.1";
  int port = 8000;
  std::string served_name;
  int64_t max_context = 0;
  size_t max_body_bytes = 8u << 20;
  size_t max_connections = server::http::ConnectionOptions{}.max_connections;
  // Seconds (fractions allowed), as the server's milliseconds.
  double header_timeout = 10, body_timeout = 60, keep_alive_timeout = 60, write_timeout = 30;
  std::string api_key;
  std::vector<std::string> aliases;  // NAME=MODEL
  session::SchedulerOptions scheduling;
  int64_t cache_memory_mib = 2048;
  int64_t state_memory_mib = 0;
  std::string state_dir;
  int64_t cache_disk_bytes = int64_t{16} << 30;
};

std::chrono::milliseconds from_seconds(double seconds, const char* option) {
  check(seconds > 0, "{} {}: expected a positive number of seconds", option, seconds);
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

server::http::ConnectionOptions connection_options(const Options& o) {
  check(o.max_connections > 0, "--max-connections must be at least 1");
  return {.max_connections = o.max_connections,
          .header_timeout = from_seconds(o.header_timeout, "--header-timeout"),
          .body_timeout = from_seconds(o.body_timeout, "--body-timeout"),
          .keep_alive_timeout = from_seconds(o.keep_alive_timeout, "--keep-alive-timeout"),
          .write_timeout = from_seconds(o.write_timeout, "--write-timeout")};
}

std::map<std::string, std::string> parse_aliases(const std::vector<std::string>& aliases) {
  std::map<std::string, std::string> out;
  for (const std::string& a : aliases) {
    const size_t eq = a.find('=');
    check(eq != std::string::npos && eq > 0 && eq + 1 < a.size(), "--model-alias {}: expected NAME=MODEL", a);
    out[a.substr(0, eq)] = a.substr(eq + 1);
  }
  return out;
}

void run(const Options& o) {
  // The signals are taken by one waiting thread (blocked before any thread starts — the
  // backend's pool and the server's — so all inherit the mask), which may then call stop(): a signal handler
  // could not.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  const std::filesystem::path dir = session::resolve_model_dir(o.chat.model);
  // The server listens while the model loads (GET /health: 503 "loading", then 200 "ok"); the model is
  // declared first so that it outlives the server.
  std::optional<session::LoadedModel> loaded;
  session::SchedulerOptions scheduling = o.scheduling;
  scheduling.cache.max_bytes = o.cache_memory_mib << 20;
  scheduling.max_state_bytes = o.state_memory_mib << 20;
  if (!o.state_dir.empty()) scheduling.disk = session::DiskCacheOptions{o.state_dir, o.cache_disk_bytes, {}};
  server::Server server({.model_name = o.served_name.empty() ? dir.filename().string() : o.served_name,
                         .defaults = o.chat.turn_options(),
                         .max_context = o.max_context,
                         .max_body_bytes = o.max_body_bytes,
                         .connections = connection_options(o),
                         .storage = o.chat.storage(),
                         .scheduling = scheduling,
                         .api_key = o.api_key,
                         .model_aliases = parse_aliases(o.aliases)});
  const int port = server.bind(o.host, o.port);
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    log::info("signal {}: stopping", sig);
    server.stop();
  });
  std::thread http([&] { server.run(); });
  auto finish = [&] {
    server.stop();
    http.join();
    pthread_kill(waiter.native_handle(), SIGTERM);  // wakes the waiter when no signal came
    waiter.join();
  };
  log::info("listening at {}:{}; loading {}", o.host, port, dir.string());
  try {
    loaded.emplace(dir, o.chat.tokenizer_path(), o.chat.options());
    server.attach(*loaded);
  } catch (...) {
    finish();
    throw;
  }
  log::info("serving {} on http://{}:{} (OpenAI and Anthropic APIs under /v1)", dir.string(), o.host, port);
  http.join();
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  log::info("stopped");
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "serve",
      "HTTP server: OpenAI /v1/chat/completions and /v1/responses, Anthropic /v1/messages, /v1/models "
      "(default model: baleen-nano)");
  opts->chat.add_to(*cmd);
  cmd->add_option("--host", opts->host, "address to listen on")->capture_default_str();
  cmd->add_option("--port", opts->port, "port to listen on; 0 picks a free one")->capture_default_str();
  cmd->add_option("--served-model-name", opts->served_name,
                  "model id in the API (default: the model directory's name)");
  cmd->add_option("--max-context", opts->max_context,
                  "prompt + completion tokens per request (default: the config's max_position_embeddings)");
  cmd->add_option("--max-body-bytes", opts->max_body_bytes, "largest request body; larger ones get 413")
      ->capture_default_str();
  cmd->add_option("--max-connections", opts->max_connections,
                  "connections open at once; one more is answered 503 and closed")
      ->capture_default_str();
  cmd->add_option("--header-timeout", opts->header_timeout,
                  "seconds a request's line and headers may take to arrive; then 408 and close")
      ->capture_default_str();
  cmd->add_option("--body-timeout", opts->body_timeout,
                  "seconds a request's body may take to arrive after its headers; then 408 and close")
      ->capture_default_str();
  cmd->add_option("--keep-alive-timeout", opts->keep_alive_timeout,
                  "seconds an idle connection stays open between requests")
      ->capture_default_str();
  cmd->add_option("--write-timeout", opts->write_timeout,
                  "seconds a response write may wait for a client that reads nothing; then the connection "
                  "(and its generation) ends")
      ->capture_default_str();
  cmd->add_option("--api-key", opts->api_key,
                  "require this key on /v1/ requests (x-api-key or Authorization: Bearer); default: none");
  cmd->add_option("--model-alias", opts->aliases,
                  "NAME=MODEL: answer requests for NAME with the served MODEL (repeatable; claude-* names "
                  "always are)");
  cmd->add_option("--max-running", opts->scheduling.max_running,
                  "generations batched together (each step feeds one token of each)")
      ->capture_default_str();
  cmd->add_option("--max-queue", opts->scheduling.max_waiting,
                  "generations waiting for a batch slot; beyond them a request gets 429 with Retry-After")
      ->capture_default_str();
  cmd->add_option("--step-tokens", opts->scheduling.step_tokens,
                  "tokens one step feeds at most: a decode token per running generation, then prefill chunks")
      ->capture_default_str();
  cmd->add_option(
         "--cache-entries", opts->scheduling.cache.max_entries,
         "session states kept for prefix reuse (every 128-token boundary, prompt and conversation end)")
      ->capture_default_str();
  cmd->add_option(
         "--cache-memory", opts->cache_memory_mib,
         "MiB of session state (running and cached) beyond which the least recently used cached states "
         "are evicted; 0: no bound")
      ->capture_default_str();
  cmd->add_option(
         "--state-memory", opts->state_memory_mib,
         "MiB of session state beyond which, once the cache is evicted, the generations admitted last are "
         "preempted (parked, then recomputed); 0: no bound")
      ->capture_default_str();
  cmd->add_option("--state-dir", opts->state_dir,
                  "directory where prefix cache entries (each prompt's end, its deepest 128-token boundary, "
                  "each conversation's end) and stored responses are kept across restarts (docs/SERVER.md); "
                  "default: none, both are in memory only");
  cmd->add_option("--cache-disk", opts->cache_disk_bytes,
                  "bytes of --state-dir entries beyond which the least recently used are deleted (suffixes "
                  "KiB, MiB, GiB...); 0: no bound")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  cmd->callback([opts] { run(*opts); });
}

}  // namespace baleen::app
