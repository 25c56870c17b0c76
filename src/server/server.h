// The HTTP server of `baleen serve`: OpenAI's POST /v1/chat/completions, Anthropic's POST /v1/messages
// (+ /count_tokens), OpenAI's POST /v1/responses (+ GET /v1/responses/{id}), each whole or streamed as
// SSE, GET /v1/models, GET /health and GET /metrics over one loaded model. Generations run through one
// session::Scheduler (continuous batching on one engine thread; a full queue is a 429 with Retry-After);
// its prefix cache makes a request that extends an earlier conversation (an agent's tool loop re-sending
// its history) prefill only its new tokens, and the turns it generated are kept (server/turn_memory.h) so a
// re-sent turn renders to the sampled tokens. A client that hangs up cancels its generation, streaming or
// not. Errors are in each API's shape (server/api_error.h). HTTP is server/http/: idle and slow connections
// wait in one event loop, requests run on workers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "server/http/http_server.h"
#include "session/loaded_model.h"
#include "session/scheduler.h"

namespace baleen::server {

struct ServerOptions {
  std::string model_name;         // the id /v1/models lists and requests may name
  session::TurnOptions defaults;  // dialect, thinking, sampling and max_tokens of requests that omit them
  int64_t max_context = 0;        // prompt + completion tokens; 0: the config's max_position_embeddings
  size_t max_body_bytes = 8u << 20;
  http::ConnectionOptions connections;  // connection limit and read/write timeouts (server/http/http_server.h)
  StateStorage storage = StateStorage::kPaper;  // the sessions' KV storage
  session::SchedulerOptions scheduling;         // batch and queue bounds (its storage is `storage`)
  std::string api_key;  // non-empty: /v1/ requests must send it (x-api-key or Authorization: Bearer)
  // Other model names answered by the served model (--model-alias NAME=MODEL). Anthropic-style names
  // (claude-...) always are, so Claude Code works with its default model names.
  std::map<std::string, std::string> model_aliases;
};

class Server {
 public:
  // Serves `model` (attach()).
  Server(session::LoadedModel& model, ServerOptions options);
  // Serves nothing yet: until attach(), GET /health answers 503 {"status": "loading"}, /metrics its
  // counters, and every other route 503 — so a server can listen while its model loads.
  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Serves `model` from now on (once); borrows it: the model must outlive the server. Throws Error when no
  // context length is known. Thread-safe against run().
  void attach(session::LoadedModel& model);
  // Binds the listening socket; port 0 picks a free port. Returns the port. Throws Error on failure.
  int bind(const std::string& host, int port);
  // Serves until stop(); returns once in-flight requests have ended.
  void run();
  // Stops accepting and interrupts the running generation (a stream ends without [DONE]). Thread-safe,
  // idempotent; not async-signal-safe (call it from a thread that waits for the signal).
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace baleen::server
