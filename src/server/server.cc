#include "server/server.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <mutex>
#include <tuple>

#include "core/log.h"
#include "server/api_error.h"
#include "server/chat_request.h"
#include "server/chat_response.h"

namespace baleen::server {
namespace {

using chat::Json;

// The method each route answers; another method on a known path is a 405, an unknown path a 404.
const char* allowed_method(std::string_view path) {
  if (path == "/health" || path == "/v1/models" || path.starts_with("/v1/models/")) return "GET";
  if (path == "/v1/chat/completions") return "POST";
  return nullptr;
}

void send_json(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

std::string error_message(const httplib::Request& req, const httplib::Response& res, size_t max_body) {
  switch (res.status) {
    case 404:
      return fmt::format("Unknown route: {} {}", req.method, req.path);
    case 405:
      return fmt::format("Method {} is not allowed on {} (use {})", req.method, req.path,
                         res.get_header_value("Allow"));
    case 413:
      return fmt::format("Request body is larger than the server's limit of {} bytes", max_body);
    default:
      return fmt::format("HTTP {}", res.status);
  }
}

}  // namespace

struct Server::Impl {
  Impl(session::LoadedModel& loaded, ServerOptions opts)
      : options(std::move(opts)), session(loaded.model(), loaded.tokenizer(), options.storage) {
    if (options.max_context == 0) options.max_context = loaded.model().config().max_position_embeddings;
    check(options.max_context > 0,
          "the model's config.json has no max_position_embeddings: pass the context length explicitly");
  }

  void install_routes();
  Json model_json() const;
  void chat_completions(const httplib::Request& req, httplib::Response& res);
  std::vector<int32_t> fit_prompt(ChatRequest& request) const;
  session::TurnResult run_turn(const std::vector<int32_t>& prompt, session::TurnOptions turn);
  bool stream_turn(const ChatRequest& request, const std::vector<int32_t>& prompt, const CompletionMeta& meta,
                   httplib::DataSink& sink);

  ServerOptions options;
  httplib::Server http;
  std::mutex engine;                  // one generation at a time; guards session
  session::TurnRunner session;        // prompt_tokens() is const and thread-safe; generate() needs `engine`
  std::atomic<bool> cancel{false};    // interrupts the generation running now
  std::atomic<bool> stopping{false};  // set by stop(): every later generation is cancelled at once
  std::atomic<uint64_t> requests{0};
  std::atomic<int64_t> completed{0}, interrupted{0};  // generations, reported by /health
  const int64_t started =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
};

Json Server::Impl::model_json() const {
  return {{"id", options.model_name},
          {"object", "model"},
          {"created", started},
          {"owned_by", "baleen"},
          {"max_model_len", options.max_context}};
}

void Server::Impl::install_routes() {
  http.set_payload_max_length(options.max_body_bytes);
  http.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    const char* allowed = allowed_method(req.path);
    if (!allowed || req.method == allowed || (req.method == "HEAD" && std::string_view(allowed) == "GET"))
      return httplib::Server::HandlerResponse::Unhandled;
    res.status = 405;
    res.set_header("Allow", allowed);
    return httplib::Server::HandlerResponse::Handled;
  });
  // Every 4xx/5xx that left no body (unknown route, 405, 413, httplib's own 400s) gets OpenAI's shape.
  http.set_error_handler(
      httplib::Server::HandlerWithResponse([this](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        const std::string code = res.status == 404 ? "unknown_url" : "";
        send_json(res, res.status,
                  error_body(error_message(req, res, options.max_body_bytes),
                             res.status < 500 ? "invalid_request_error" : "server_error", "", code));
        return httplib::Server::HandlerResponse::Handled;
      }));
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    try {
      std::rethrow_exception(ep);
    } catch (const ApiError& e) {
      send_json(res, e.status(), e.body());
    } catch (const std::exception& e) {
      log::error("request failed: {}", e.what());
      send_json(res, 500, error_body(e.what(), "server_error", "", ""));
    }
  });
  http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200,
              {{"status", "ok"},
               {"generations", {{"completed", completed.load()}, {"interrupted", interrupted.load()}}}});
  });
  http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, {{"object", "list"}, {"data", Json::array({model_json()})}});
  });
  http.Get(R"(/v1/models/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
    if (req.matches[1] != options.model_name)
      throw ApiError(404, fmt::format("The model `{}` does not exist", req.matches[1].str()), "model",
                     "model_not_found");
    send_json(res, 200, model_json());
  });
  http.Post("/v1/chat/completions",
            [this](const httplib::Request& req, httplib::Response& res) { chat_completions(req, res); });
}

// The prompt's tokens, checked against the context; max_tokens is cut to what the context has left when
// the client did not set it.
std::vector<int32_t> Server::Impl::fit_prompt(ChatRequest& request) const {
  std::vector<int32_t> prompt;
  try {
    prompt = session.prompt_tokens(request.conversation, request.turn);
  } catch (const Error& e) {
    throw invalid_request(e);
  }
  const int64_t n = static_cast<int64_t>(prompt.size());
  const int64_t limit = options.max_context;
  if (n >= limit)
    throw ApiError(400,
                   fmt::format("This model's maximum context length is {} tokens, but the messages "
                               "resulted in {} tokens",
                               limit, n),
                   "messages", "context_length_exceeded");
  if (request.max_tokens_given && n + request.turn.max_tokens > limit)
    throw ApiError(400,
                   fmt::format("This model's maximum context length is {} tokens, but the messages "
                               "resulted in {} tokens and max_tokens asks for {} more",
                               limit, n, request.turn.max_tokens),
                   "max_tokens", "context_length_exceeded");
  request.turn.max_tokens = std::min(request.turn.max_tokens, limit - n);
  return prompt;
}

session::TurnResult Server::Impl::run_turn(const std::vector<int32_t>& prompt, session::TurnOptions turn) {
  std::lock_guard lock(engine);
  cancel = stopping.load();
  turn.stop = &cancel;
  try {
    session::TurnResult result = session.generate(prompt, turn);
    ++completed;
    return result;
  } catch (const session::TurnInterrupted&) {
    ++interrupted;
    throw;
  }
}

void Server::Impl::chat_completions(const httplib::Request& req, httplib::Response& res) {
  ChatRequest request = parse_chat_request(req.body, options.defaults);
  if (!request.model.empty() && request.model != options.model_name)
    throw ApiError(404, fmt::format("The model `{}` does not exist", request.model), "model",
                   "model_not_found");
  const uint64_t n = ++requests;
  request.turn.id_seed = static_cast<uint64_t>(started) << 20 ^ n;  // tool-call ids unique across requests
  const CompletionMeta meta{
      fmt::format("chatcmpl-{:x}-{}", started, n),
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count(),
      options.model_name};
  std::vector<int32_t> prompt = fit_prompt(request);
  if (!request.stream) {
    try {
      send_json(res, 200, completion_json(meta, run_turn(prompt, request.turn)));
    } catch (const session::TurnInterrupted&) {
      throw ApiError(503, "the server is shutting down");
    }
    return;
  }
  auto job = std::make_shared<std::tuple<ChatRequest, std::vector<int32_t>, CompletionMeta>>(
      std::move(request), std::move(prompt), meta);
  res.set_chunked_content_provider("text/event-stream", [this, job](size_t, httplib::DataSink& sink) {
    const auto& [request, prompt, meta] = *job;
    return stream_turn(request, prompt, meta, sink);
  });
}

// Writes one streamed turn. A failed write (the client went away) cancels the generation at its next
// token; returning false then closes the connection without [DONE].
bool Server::Impl::stream_turn(const ChatRequest& request, const std::vector<int32_t>& prompt,
                               const CompletionMeta& meta, httplib::DataSink& sink) {
  ChunkEncoder encoder(meta, request.include_usage);
  bool connected = true;
  auto send = [&](const std::string& text) {
    if (connected && !text.empty() && !sink.write(text.data(), text.size())) {
      connected = false;
      cancel = true;
    }
  };
  send(encoder.start());
  if (!connected) return false;
  session::TurnOptions turn = request.turn;
  turn.on_event = [&](const chat::ParseEvent& event) { send(encoder.event(event)); };
  try {
    send(encoder.finish(run_turn(prompt, turn)));
  } catch (const session::TurnInterrupted&) {
    log::info("{}: stream ended early ({})", meta.id, connected ? "server stopping" : "client disconnected");
    return false;
  } catch (const std::exception& e) {
    log::error("{}: {}", meta.id, e.what());
    send(sse_event(error_body(e.what(), "server_error", "", "")));
  }
  if (!connected) return false;
  sink.done();
  return true;
}

Server::Server(session::LoadedModel& model, ServerOptions options)
    : impl_(std::make_unique<Impl>(model, std::move(options))) {
  impl_->install_routes();
}

Server::~Server() = default;

int Server::bind(const std::string& host, int port) {
  // A client that hangs up makes the next write fail with EPIPE; the default SIGPIPE would kill the server.
  std::signal(SIGPIPE, SIG_IGN);
  const int bound = port == 0                              ? impl_->http.bind_to_any_port(host)
                    : impl_->http.bind_to_port(host, port) ? port
                                                           : -1;
  check(bound > 0, "cannot listen on {}:{}: {}", host, port, std::strerror(errno));
  return bound;
}

void Server::run() {
  if (!impl_->stopping) impl_->http.listen_after_bind();
}

void Server::stop() {
  impl_->stopping = true;
  impl_->cancel = true;
  impl_->http.stop();
}

}  // namespace baleen::server
