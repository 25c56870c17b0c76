#include "server/server.h"

#include <atomic>
#include <chrono>
#include <mutex>

#include "core/log.h"
#include "server/api_error.h"
#include "server/chat_request.h"
#include "server/chat_response.h"
#include "server/completions_request.h"
#include "server/completions_response.h"
#include "server/http/http_server.h"
#include "server/messages_request.h"
#include "server/messages_response.h"
#include "server/metrics.h"
#include "server/response_store.h"
#include "server/responses_request.h"
#include "server/responses_response.h"
#include "server/turn_memory.h"

namespace baleen::server {
namespace {

using chat::Json;
using http::HttpRequest;
using http::HttpResponse;

// The method each route answers; another method on a known path is a 405, an unknown path a 404.
// Routes match on the path alone, so `/v1/messages?beta=true` (Claude Code) is /v1/messages.
const char* allowed_method(std::string_view path) {
  if (path == "/health" || path == "/metrics" || path == "/v1/models" || path.starts_with("/v1/models/"))
    return "GET";
  if (path.starts_with("/v1/responses/")) return "GET";
  if (path == "/v1/chat/completions" || path == "/v1/completions" || path == "/v1/messages" || path == "/v1/messages/count_tokens" ||
      path == "/v1/responses")
    return "POST";
  return nullptr;
}

// Anthropic's routes answer errors in Anthropic's shape; every other route in OpenAI's.
bool anthropic_route(std::string_view path) {
  return path.starts_with("/v1/messages");
}

HttpResponse body_response(int status, std::string content_type, std::string body) {
  HttpResponse res;
  res.status = status;
  res.content_type = std::move(content_type);
  res.body = std::move(body);
  return res;
}

HttpResponse json_response(int status, const Json& body) {
  return body_response(status, "application/json", body.dump());
}

HttpResponse error_response(const HttpRequest& req, const ApiError& e) {
  HttpResponse res = json_response(e.status(), anthropic_route(req.path) ? e.anthropic_body() : e.body());
  if (e.status() == 429) res.headers.emplace_back("Retry-After", "1");
  return res;
}

std::string method_error(const HttpRequest& req, std::string_view allowed) {
  if (req.header("Upgrade") == "websocket")
    return fmt::format("WebSocket transport is not supported on {}: use HTTP POST (Codex: "
                       "supports_websockets = false)", req.path);
  return fmt::format("Method {} is not allowed on {} (use {})", req.method, req.path, allowed);
}

// The disk tier's entries are the loaded model's: its identity is known only once it is loaded.
session::SchedulerOptions scheduler_options(const ServerOptions& options, const ModelIdentity& model) {
  session::SchedulerOptions o = options.scheduling;
  o.storage = options.storage;
  if (o.disk) o.disk->model = model;
  return o;
}

int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Stored responses live beside the cache entries in --state-dir.
std::optional<std::filesystem::path> responses_file(const ServerOptions& options) {
  if (!options.scheduling.disk) return std::nullopt;
  std::filesystem::create_directories(options.scheduling.disk->dir);
  return options.scheduling.disk->dir / "responses.log";
}

// What a streamed turn needs once the handler has returned: its ticket, or its choices' (chat and
// completions, whose encoder is one per choice).
struct StreamJob {
  std::vector<std::shared_ptr<session::TurnTicket>> tickets;
  session::TurnOptions turn;
  std::function<void(const session::TurnResult&)> done;  // for each choice, after the last event was written
};

// A stream's writes: after a failed one (the client went away) nothing more is written and `cancel` is set,
// which ends the generation before its next step.
class StreamOut {
 public:
  explicit StreamOut(const http::ChunkWriter& write) : write_(write) {}
  void send(const std::string& text) {
    if (connected_ && !text.empty() && !write_(text)) {
      connected_ = false;
      cancel = true;
    }
  }
  bool connected() const { return connected_; }
  // Runs the stream's generation: an interruption (the client left, the server stops) ends the stream
  // without its last event (false); another failure is sent as `error_event(message)`.
  template <typename Body, typename ErrorEvent>
  bool run(Body body, ErrorEvent error_event) {
    try {
      body();
    } catch (const session::TurnInterrupted&) {
      log::info("stream ended early ({})", connected_ ? "server stopping" : "client disconnected");
      return false;
    } catch (const std::exception& e) {
      log::error("stream failed: {}", e.what());
      send(error_event(e.what()));
    }
    return connected_;
  }
  std::atomic<bool> cancel{false};

 private:
  const http::ChunkWriter& write_;
  bool connected_ = true;
};

}  // namespace

// The served model's side of the server, there once it is loaded.
struct Engine {
  Engine(session::LoadedModel& loaded, const session::SchedulerOptions& options)
      : tokenizer(loaded.tokenizer()),
        vocab_size(static_cast<int64_t>(loaded.tokenizer().size())),
        scheduler(loaded.model(), loaded.tokenizer(), options) {}

  const tokenizer::Tokenizer& tokenizer;
  const int64_t vocab_size;      // token ids a raw prompt may hold
  session::Scheduler scheduler;  // the engine thread: every generation runs through it
};

// A worker for every turn the scheduler holds (a streamed one holds its worker while it runs), and some for
// requests that do not generate (/health, /metrics, count_tokens) and for the 429s.
http::HttpServerOptions http_options(const ServerOptions& options) {
  return {.connections = options.connections,
          .limits = {.max_body_bytes = options.max_body_bytes},
          .workers =
              static_cast<size_t>(options.scheduling.max_running + options.scheduling.max_waiting + 16)};
}

struct Server::Impl {
  explicit Impl(ServerOptions opts)
      : options(std::move(opts)),
        stored(responses_file(options)),
        http(
            http_options(options),
            [this](const HttpRequest& req, const http::Connection& client) { return handle(req, client); },
            [this](const HttpRequest& req, const http::HttpError& e) { return refusal(req, e); }) {
    for (const auto& [alias, target] : options.model_aliases)
      check(target == options.model_name, "--model-alias {}={}: the served model is {}", alias, target,
            options.model_name);
  }

  void attach(session::LoadedModel& loaded);
  HttpResponse handle(const HttpRequest& req, const http::Connection& client);
  HttpResponse refusal(const HttpRequest& req, const http::HttpError& e);
  HttpResponse route(const HttpRequest& req, const http::Connection& client);
  HttpResponse health() const;
  bool authorized(const HttpRequest& req) const;
  Json model_json() const;
  void check_model(const std::string& requested) const;
  uint64_t next_request(session::TurnOptions& turn);
  HttpResponse chat_completions(const HttpRequest& req, const http::Connection& client);
  HttpResponse completions(const HttpRequest& req, const http::Connection& client);
  HttpResponse messages(const HttpRequest& req, const http::Connection& client);
  HttpResponse count_tokens(const HttpRequest& req);
  HttpResponse responses(const HttpRequest& req, const http::Connection& client);
  std::vector<int32_t> fit_prompt(const chat::Conversation& conversation, session::TurnOptions& turn,
                                  bool max_tokens_given) const;
  std::vector<int32_t> fit(std::vector<int32_t> prompt, session::TurnOptions& turn, bool max_tokens_given) const;
  std::vector<std::shared_ptr<session::TurnTicket>> submit(std::vector<int32_t> prompt,
                                                           const session::TurnOptions& turn, int64_t choices = 1);
  // A non-streaming turn, or `choices` of one prompt: submitted, then followed to their ends; cancelled
  // when the client hangs up.
  std::vector<session::TurnResult> run_turns(const http::Connection& client, std::vector<int32_t> prompt,
                                             const session::TurnOptions& turn, int64_t choices = 1);
  session::TurnResult run_turn(const http::Connection& client, std::vector<int32_t> prompt,
                               const session::TurnOptions& turn) {
    return std::move(run_turns(client, std::move(prompt), turn).front());
  }
  template <typename Encoder>
  HttpResponse stream(std::shared_ptr<Encoder> encoder, StreamJob job);
  template <typename Encoder>
  bool stream_turn(Encoder& encoder, const StreamJob& job, const http::ChunkWriter& write);
  template <typename Encoder>
  bool stream_turn(std::vector<Encoder>& choices, const StreamJob& job, const http::ChunkWriter& write);

  ServerOptions options;
  // Set once by attach() (under engine_mutex, with stop()); the routes other than /health and /metrics
  // answer 503 until `ready`.
  std::mutex engine_mutex;
  std::unique_ptr<Engine> engine;
  std::atomic<bool> ready{false};
  RequestCounts counts;               // /metrics
  TurnMemory memory;                  // the turns generated, for exact replay
  ResponseStore stored;               // /v1/responses with store: true
  std::atomic<bool> stopping{false};  // set by stop()
  std::atomic<uint64_t> requests{0};
  const int64_t started = unix_seconds();
  http::HttpServer http;  // last: its workers stop (joined) before what they use goes
};

void Server::Impl::attach(session::LoadedModel& loaded) {
  std::lock_guard lock(engine_mutex);
  check(!engine, "the server already serves a model");
  if (options.max_context == 0) options.max_context = loaded.model().config().max_position_embeddings;
  check(options.max_context > 0,
        "the model's config.json has no max_position_embeddings: pass the context length explicitly");
  engine = std::make_unique<Engine>(loaded, scheduler_options(options, loaded.identity()));
  if (stopping) engine->scheduler.stop();
  ready = true;
}

Json Server::Impl::model_json() const {
  return {{"id", options.model_name},
          {"object", "model"},
          {"created", started},
          {"owned_by", "baleen"},
          {"max_model_len", options.max_context}};
}

bool Server::Impl::authorized(const HttpRequest& req) const {
  if (options.api_key.empty() || !req.path.starts_with("/v1/")) return true;
  return req.header("x-api-key") == options.api_key ||
         req.header("Authorization") == "Bearer " + options.api_key;
}

// The served model answers its own name, its aliases and Anthropic's model names; other names are a 404.
void Server::Impl::check_model(const std::string& requested) const {
  if (requested.empty() || requested == options.model_name || options.model_aliases.contains(requested) ||
      requested.starts_with("claude-"))
    return;
  throw ApiError(404, fmt::format("The model `{}` does not exist", requested), "model", "model_not_found");
}

uint64_t Server::Impl::next_request(session::TurnOptions& turn) {
  const uint64_t n = ++requests;
  turn.id_seed = static_cast<uint64_t>(started) << 20 ^ n;  // tool-call ids unique across requests
  return n;
}

// Every answer, error or not, is counted for /metrics before it is written, so a client that has its answer
// finds it counted.
HttpResponse Server::Impl::handle(const HttpRequest& req, const http::Connection& client) {
  HttpResponse res;
  try {
    res = route(req, client);
  } catch (const ApiError& e) {
    res = error_response(req, e);
  } catch (const std::exception& e) {
    log::error("request failed: {}", e.what());
    res = error_response(req, ApiError(500, e.what()));
  }
  counts.count(req.path, res.status);
  return res;
}

// What the HTTP layer refuses itself (a malformed, oversized or slow request, a connection over the limit),
// in the API's error shape.
HttpResponse Server::Impl::refusal(const HttpRequest& req, const http::HttpError& e) {
  counts.count(req.path, e.status());
  return error_response(req, ApiError(e.status(), e.what()));
}

HttpResponse Server::Impl::route(const HttpRequest& req, const http::Connection& client) {
  if (!authorized(req))
    throw ApiError(401, "Invalid or missing API key (send it as x-api-key or Authorization: Bearer)", "",
                   "invalid_api_key");
  const std::string& path = req.path;
  if (!ready && path != "/health" && path != "/metrics") throw ApiError(503, "the model is still loading");
  const char* allowed = allowed_method(path);
  const auto unknown = [&] {
    return ApiError(404, fmt::format("Unknown route: {} {}", req.method, path), "", "unknown_url");
  };
  if (!allowed) throw unknown();
  if (req.method != allowed && !(req.method == "HEAD" && std::string_view(allowed) == "GET")) {
    HttpResponse res = error_response(req, ApiError(405, method_error(req, allowed)));
    res.headers.emplace_back("Allow", allowed);
    return res;
  }
  if (path == "/health") return health();
  if (path == "/metrics")
    return body_response(200, "text/plain; version=0.0.4",
                         metrics_text(counts, ready ? engine->scheduler.stats() : session::SchedulerStats{}));
  if (path == "/v1/models")
    return json_response(200, {{"object", "list"}, {"data", Json::array({model_json()})}});
  if (path.starts_with("/v1/models/")) {
    const std::string id = path.substr(std::string_view("/v1/models/").size());
    if (id.empty()) throw unknown();
    if (id != options.model_name)
      throw ApiError(404, fmt::format("The model `{}` does not exist", id), "model", "model_not_found");
    return json_response(200, model_json());
  }
  if (path.starts_with("/v1/responses/")) {
    const std::string id = path.substr(std::string_view("/v1/responses/").size());
    if (id.empty() || id.find('/') != std::string::npos) throw unknown();
    const std::optional<Json> response = stored.response(id);
    if (!response)
      throw ApiError(404, fmt::format("No response with id '{}' (only stored ones can be retrieved)", id),
                     "response_id", "not_found");
    return json_response(200, *response);
  }
  if (path == "/v1/chat/completions") return chat_completions(req, client);
  if (path == "/v1/completions") return completions(req, client);
  if (path == "/v1/messages") return messages(req, client);
  if (path == "/v1/messages/count_tokens") return count_tokens(req);
  return responses(req, client);  // the last POST route allowed_method knows
}

HttpResponse Server::Impl::health() const {
  if (!ready) return json_response(503, {{"status", "loading"}});
  const session::SchedulerStats stats = engine->scheduler.stats();
  return json_response(
      200, {{"status", "ok"},
            {"generations",
             {{"completed", stats.completed}, {"interrupted", stats.interrupted}, {"failed", stats.failed}}},
            {"running", stats.running},
            {"waiting", stats.waiting}});
}

// The prompt's tokens (rendered from a conversation, or raw), checked against the context; max_tokens is cut to what the context has left when
// the client did not set it.
std::vector<int32_t> Server::Impl::fit_prompt(const chat::Conversation& conversation, session::TurnOptions& turn,
                                              bool max_tokens_given) const {
  try {
    return fit(engine->scheduler.prompt_tokens(conversation, turn), turn, max_tokens_given);
  } catch (const ApiError&) {
    throw;
  } catch (const Error& e) {
    throw invalid_request(e);
  }
}

std::vector<int32_t> Server::Impl::fit(std::vector<int32_t> prompt, session::TurnOptions& turn,
                                       bool max_tokens_given) const {
  const int64_t n = static_cast<int64_t>(prompt.size());
  const int64_t limit = options.max_context;
  if (n >= limit)
    throw ApiError(400,
                   fmt::format("prompt is too long: {} tokens > {} maximum (this model's maximum context "
                               "length is {} tokens, but the messages resulted in {} tokens)",
                               n, limit - 1, limit, n),
                   "messages", "context_length_exceeded");
  if (max_tokens_given && n + turn.max_tokens > limit)
    throw ApiError(400,
                   fmt::format("input length and max_tokens exceed context limit: {} + {} > {} (this "
                               "model's maximum context length is {} tokens)",
                               n, turn.max_tokens, limit, limit),
                   "max_tokens", "context_length_exceeded");
  turn.max_tokens = std::min(turn.max_tokens, limit - n);
  return prompt;
}

std::vector<std::shared_ptr<session::TurnTicket>> Server::Impl::submit(std::vector<int32_t> prompt,
                                                                       const session::TurnOptions& turn,
                                                                       int64_t choices) {
  try {
    return engine->scheduler.submit_choices(std::move(prompt), turn, choices);
  } catch (const session::QueueFull& e) {
    throw ApiError(429, e.what(), "", "rate_limit_exceeded");
  }
}

std::vector<session::TurnResult> Server::Impl::run_turns(const http::Connection& client,
                                                         std::vector<int32_t> prompt,
                                                         const session::TurnOptions& turn, int64_t choices) {
  const auto tickets = submit(std::move(prompt), turn, choices);
  try {
    const std::vector<session::TurnOptions> options(tickets.size(), turn);
    return session::follow_all(tickets, options, [&] { return client.peer_closed(); });
  } catch (const session::TurnInterrupted&) {
    if (client.peer_closed()) log::info("request ended early (client disconnected)");
    throw ApiError(503, "the server is shutting down");
  }
}

template <typename Encoder>
HttpResponse Server::Impl::stream(std::shared_ptr<Encoder> encoder, StreamJob job) {
  // A turn whose stream is dropped before its end (the client left before the first write) is cancelled.
  std::shared_ptr<StreamJob> shared(new StreamJob(std::move(job)), [](StreamJob* j) {
    for (const auto& ticket : j->tickets) ticket->cancel();
    delete j;
  });
  HttpResponse res = body_response(200, "text/event-stream", "");
  res.stream = [this, encoder, shared](const http::ChunkWriter& write) {
    return stream_turn(*encoder, *shared, write);
  };
  return res;
}

// Writes one streamed turn. A failed write cancels the generation; returning false then closes the
// connection without the stream's last event.
template <typename Encoder>
bool Server::Impl::stream_turn(Encoder& encoder, const StreamJob& job, const http::ChunkWriter& write) {
  StreamOut out(write);
  out.send(encoder.begin());
  if (!out.connected()) return false;
  session::TurnOptions turn = job.turn;
  turn.on_prompt = [&](int64_t prompt, int64_t reused) { out.send(encoder.prompt(prompt, reused)); };
  turn.on_event = [&](const chat::ParseEvent& event) { out.send(encoder.event(event)); };
  if constexpr (requires(const TokenLogprob& token) { encoder.logprob(token); })
    turn.on_logprob = [&](const TokenLogprob& token) { encoder.logprob(token); };
  turn.stop = &out.cancel;
  return out.run(
      [&] {
        const session::TurnResult result = job.tickets.front()->follow(turn);
        out.send(encoder.finish(result));
        if (job.done) job.done(result);
      },
      [&](std::string_view message) { return encoder.error(message); });
}

// The choices of one prompt streamed together (OpenAI's n), each chunk as its turn makes it, each choice's
// finish chunk once all are done, then the usage and [DONE].
template <typename Encoder>
bool Server::Impl::stream_turn(std::vector<Encoder>& choices, const StreamJob& job,
                               const http::ChunkWriter& write) {
  StreamOut out(write);
  for (const Encoder& encoder : choices) out.send(encoder.begin());
  if (!out.connected()) return false;
  std::vector<session::TurnOptions> options(choices.size(), job.turn);
  for (size_t i = 0; i < choices.size(); ++i) {
    Encoder& encoder = choices[i];
    options[i].on_event = [&](const chat::ParseEvent& event) { out.send(encoder.event(event)); };
    options[i].on_logprob = [&](const TokenLogprob& token) { encoder.logprob(token); };
    options[i].stop = &out.cancel;
  }
  return out.run(
      [&] {
        const std::vector<session::TurnResult> results = session::follow_all(job.tickets, options);
        for (size_t i = 0; i < choices.size(); ++i) out.send(choices[i].finish(results[i]));
        out.send(choices.front().close(results));
        if (job.done)
          for (const session::TurnResult& result : results) job.done(result);
      },
      [&](std::string_view message) { return choices.front().error(message); });
}

HttpResponse Server::Impl::chat_completions(const HttpRequest& req, const http::Connection& client) {
  ChatRequest request = parse_chat_request(req.body, options.defaults);
  check_model(request.model);
  const uint64_t n = next_request(request.turn);
  const CompletionMeta meta{fmt::format("chatcmpl-{:x}-{}", started, n), unix_seconds(), options.model_name};
  memory.restore(request.conversation, {}, request.turn.render.thinking);
  std::vector<int32_t> prompt = fit_prompt(request.conversation, request.turn, request.max_tokens_given);
  auto remember = [this, thinking = request.turn.render.thinking](const session::TurnResult& result) {
    memory.remember(result, result.tool_calls, thinking, {});
  };
  const tokenizer::Tokenizer* logprobs = request.turn.logprobs >= 0 ? &engine->tokenizer : nullptr;
  if (!request.stream) {
    const std::vector<session::TurnResult> results =
        run_turns(client, std::move(prompt), request.turn, request.choices);
    for (const session::TurnResult& result : results) remember(result);
    return json_response(200, completion_json(meta, results, logprobs));
  }
  auto encoders = std::make_shared<std::vector<ChunkEncoder>>();
  for (int64_t i = 0; i < request.choices; ++i) encoders->emplace_back(meta, request.include_usage, logprobs, i);
  return stream(encoders, {submit(std::move(prompt), request.turn, request.choices), request.turn, remember});
}

HttpResponse Server::Impl::completions(const HttpRequest& req, const http::Connection& client) {
  CompletionsRequest request = parse_completions_request(req.body, options.defaults, engine->vocab_size);
  check_model(request.model);
  const uint64_t n = next_request(request.turn);
  const CompletionMeta meta{fmt::format("cmpl-{:x}-{}", started, n), unix_seconds(), options.model_name};
  std::vector<int32_t> prompt;
  std::string text;
  try {
    if (const auto* t = std::get_if<std::string>(&request.prompt)) {
      text = *t;
      prompt = engine->scheduler.text_tokens(text);
    } else {
      prompt = std::get<std::vector<int32_t>>(request.prompt);
      if (request.echo) text = engine->tokenizer.decode(std::vector<uint32_t>(prompt.begin(), prompt.end()));
    }
  } catch (const Error& e) {
    throw invalid_request(e);
  }
  prompt = fit(std::move(prompt), request.turn, request.max_tokens_given);
  const std::string echoed = request.echo ? text : "";
  const tokenizer::Tokenizer* logprobs = request.turn.logprobs >= 0 ? &engine->tokenizer : nullptr;
  if (!request.stream)
    return json_response(200, text_completion_json(
                                  meta, run_turns(client, std::move(prompt), request.turn, request.choices),
                                  echoed, logprobs));
  auto encoders = std::make_shared<std::vector<TextChunkEncoder>>();
  for (int64_t i = 0; i < request.choices; ++i)
    encoders->emplace_back(meta, request.include_usage, echoed, logprobs, i);
  return stream(encoders, {submit(std::move(prompt), request.turn, request.choices), request.turn, nullptr});
}

HttpResponse Server::Impl::messages(const HttpRequest& req, const http::Connection& client) {
  MessagesRequest request = parse_messages_request(req.body, options.defaults);
  check_model(request.model);
  const uint64_t n = next_request(request.turn);
  const MessageMeta meta{fmt::format("msg_{:x}{:06x}", started, n), request.model.empty() ? options.model_name
                                                                                          : request.model};
  memory.restore(request.conversation, request.signatures, request.turn.render.thinking);
  // max_tokens is cut to what the context has left rather than refused: Claude Code asks for 32000 or
  // 64000 whatever the window, and the turn ends at the window anyway.
  std::vector<int32_t> prompt = fit_prompt(request.conversation, request.turn, /*max_tokens_given=*/false);
  auto remember = [this, meta, thinking = request.turn.render.thinking](const session::TurnResult& result) {
    std::vector<chat::ToolCall> calls = result.tool_calls;
    for (chat::ToolCall& call : calls) call.id = tool_use_id(call.id);
    memory.remember(result, std::move(calls), thinking, {thinking_signature(meta)});
  };
  if (!request.stream) {
    const session::TurnResult result = run_turn(client, std::move(prompt), request.turn);
    remember(result);
    return json_response(200, message_json(meta, result));
  }
  return stream(std::make_shared<MessageStreamEncoder>(meta),
         {submit(std::move(prompt), request.turn), request.turn, remember});
}

HttpResponse Server::Impl::count_tokens(const HttpRequest& req) {
  MessagesRequest request = parse_messages_request(req.body, options.defaults, /*count_tokens=*/true);
  check_model(request.model);
  memory.restore(request.conversation, request.signatures, request.turn.render.thinking);
  std::vector<int32_t> prompt;
  try {
    prompt = engine->scheduler.prompt_tokens(request.conversation, request.turn);
  } catch (const Error& e) {
    throw invalid_request(e);
  }
  return json_response(200, {{"input_tokens", prompt.size()}});
}

HttpResponse Server::Impl::responses(const HttpRequest& req, const http::Connection& client) {
  ResponsesRequest request = parse_responses_request(
      req.body, options.defaults, [this](const std::string& id) { return stored.history(id); });
  check_model(request.model);
  const uint64_t n = next_request(request.turn);
  auto builder = std::make_shared<ResponseBuilder>(ResponseMeta{
      fmt::format("resp_{:x}{:06x}", started, n), unix_seconds(),
      request.model.empty() ? options.model_name : request.model, request.echo, request.custom_tools,
      request.namespaced, request.turn.logprobs >= 0 ? &engine->tokenizer : nullptr, request.summary});
  const bool thinking = request.turn.render.thinking;
  memory.restore(request.conversation, request.item_ids, thinking);
  std::vector<int32_t> prompt;
  try {
    prompt = fit_prompt(request.conversation, request.turn, request.max_tokens_given);
  } catch (const ApiError& e) {
    // Codex reads an overflow from response.failed (then compacts its history).
    if (!request.stream || e.code() != "context_length_exceeded") throw;
    std::string events = builder->begin();
    return body_response(200, "text/event-stream", events + builder->failed(e.code(), e.what()));
  }
  auto done = [this, builder, thinking, store = request.store,
               history = std::make_shared<chat::Conversation>(std::move(request.history))](
                  const session::TurnResult& result) {
    memory.remember(result, result.tool_calls, thinking, builder->item_ids());
    if (!store) return;
    chat::Conversation after = *history;
    after.messages.push_back(generated_turn(result, result.tool_calls));
    stored.put(builder->response()["id"], builder->response(), std::move(after));
  };
  if (!request.stream) {
    request.turn.on_event = [&](const chat::ParseEvent& event) { builder->event(event); };
    request.turn.on_logprob = [&](const TokenLogprob& token) { builder->logprob(token); };
    const session::TurnResult result = run_turn(client, std::move(prompt), request.turn);
    builder->finish(result);
    done(result);
    return json_response(200, builder->response());
  }
  return stream(builder, {submit(std::move(prompt), request.turn), request.turn, done});
}

Server::Server(session::LoadedModel& model, ServerOptions options) : Server(std::move(options)) {
  attach(model);
}

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

void Server::attach(session::LoadedModel& model) {
  impl_->attach(model);
}

Server::~Server() = default;

int Server::bind(const std::string& host, int port) {
  return impl_->http.bind(host, port);
}

void Server::run() {
  if (!impl_->stopping) impl_->http.run();
}

void Server::stop() {
  {
    std::lock_guard lock(impl_->engine_mutex);
    impl_->stopping = true;
    if (impl_->engine) impl_->engine->scheduler.stop();
  }
  impl_->http.stop();
}

}  // namespace baleen::server
