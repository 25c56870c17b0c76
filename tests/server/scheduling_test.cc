// The scheduler behind the server: a full queue is a 429 with Retry-After in each API's shape, a client that
// hangs up cancels its generation whether it streams or not (and frees its slot), /health says ready only
// once a model is attached, and /metrics counts what was served.
#include <gtest/gtest.h>

#include <chrono>
#include <latch>
#include <map>
#include <sstream>
#include <thread>

#include "nano_server.h"

namespace baleen::server {
namespace {

using chat::Json;

Json health(int port) {
  auto res = client(port).Get("/health");
  return res ? Json::parse(res->body) : Json();
}

// Polls /health until `done` holds; a bound far beyond any step keeps a broken server from hanging the suite.
template <typename Done>
bool wait_for_health(int port, Done done) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < give_up) {
    if (done(health(port))) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ADD_FAILURE() << "health never reached the state: " << health(port).dump();
  return false;
}

Json endless_request(bool stream) {
  Json r = endless_stream_request();
  r["stream"] = stream;
  return r;
}

TEST(Scheduling, FullQueueIsA429WithRetryAfterAndHangUpsFreeTheirSlots) {
  REQUIRE_NANO();
  ServerOptions options = serve_options({});
  options.scheduling.max_running = 1;
  options.scheduling.max_waiting = 1;
  ScopedServer one(*s->model, options);
  const int running = open_stream(one.port, endless_request(true));
  const int waiting = send_request(one.port, endless_request(true), "/v1/chat/completions");
  ASSERT_TRUE(wait_for_health(one.port, [](const Json& h) { return h["waiting"] == 1; }));

  auto c = client(one.port);
  auto refused = c.Post("/v1/chat/completions", endless_request(false).dump(), "application/json");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 429) << refused->body;
  EXPECT_EQ(refused->get_header_value("Retry-After"), "1");
  EXPECT_EQ(Json::parse(refused->body)["error"]["code"], "rate_limit_exceeded") << refused->body;
  const Json message = {{"model", "claude-sonnet-4-5"},
                        {"max_tokens", 8},
                        {"messages", {{{"role", "user"}, {"content", "Say hello."}}}}};
  auto anthropic = c.Post("/v1/messages", message.dump(), "application/json");
  ASSERT_TRUE(anthropic);
  EXPECT_EQ(anthropic->status, 429) << anthropic->body;
  EXPECT_EQ(Json::parse(anthropic->body)["error"]["type"], "rate_limit_error") << anthropic->body;
  auto streamed = c.Post("/v1/chat/completions", endless_request(true).dump(), "application/json");
  ASSERT_TRUE(streamed);
  EXPECT_EQ(streamed->status, 429) << "a stream is refused before its 200: " << streamed->body;

  ::close(waiting);  // gone while queued: it never runs
  ::close(running);
  ASSERT_TRUE(wait_for_health(one.port, [](const Json& h) {
    return h["generations"]["interrupted"] == 2 && h["running"] == 0 && h["waiting"] == 0;
  }));
  const Reply after = post(one.port, message, "/v1/messages");
  EXPECT_EQ(after.status, 200) << after.body.dump();
  // The engine counts the turn once it has ended, which may be just after its answer went out.
  EXPECT_TRUE(wait_for_health(one.port, [](const Json& h) { return h["generations"]["completed"] == 1; }));
}

// A non-streaming client writes nothing after its request: the server sees the hang-up on the socket.
TEST(Scheduling, NonStreamingRequestIsCancelledWhenItsClientHangsUp) {
  REQUIRE_NANO();
  ScopedServer one(*s->model, serve_options({}));
  const int fd = send_request(one.port, endless_request(false), "/v1/chat/completions");
  ASSERT_TRUE(wait_for_health(one.port, [](const Json& h) { return h["running"] == 1; }));
  ::close(fd);
  ASSERT_TRUE(wait_for_health(one.port, [](const Json& h) {
    const Json& g = h["generations"];
    return g["completed"].get<int64_t>() + g["interrupted"].get<int64_t>() + g["failed"].get<int64_t>() >= 1;
  }));
  EXPECT_EQ(health(one.port)["generations"]["interrupted"], 1) << "the 2000-token generation ran to its end";
}

TEST(Scheduling, HealthSaysReadyOnlyOnceTheModelIsAttached) {
  REQUIRE_NANO();
  Server server(serve_options({}));
  const int port = server.bind("127.0.0.1", 0);
  std::thread running([&] { server.run(); });
  auto c = client(port);
  auto loading = c.Get("/health");
  ASSERT_TRUE(loading);
  EXPECT_EQ(loading->status, 503);
  EXPECT_EQ(Json::parse(loading->body)["status"], "loading");
  auto early = c.Post("/v1/chat/completions", R"({"messages": [{"role": "user", "content": "hi"}]})",
                      "application/json");
  ASSERT_TRUE(early);
  EXPECT_EQ(early->status, 503) << early->body;
  EXPECT_EQ(c.Get("/metrics")->status, 200);
  server.attach(*s->model);
  auto ready = c.Get("/health");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  EXPECT_EQ(Json::parse(ready->body)["status"], "ok");
  server.stop();
  running.join();
}

// The samples of a Prometheus text page by name with labels (`name{labels}` as written).
std::map<std::string, double> samples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

TEST(Scheduling, MetricsCountRequestsTokensAndLatencies) {
  REQUIRE_NANO();
  ScopedServer one(*s->model, serve_options({}));
  const std::vector<std::string> asks = {"Who are you?", "How many lines are in notes.txt?", "Say hello.",
                                         "What is in notes.md?"};
  std::vector<Reply> replies(asks.size());
  std::latch go(static_cast<ptrdiff_t>(asks.size()));
  std::vector<std::thread> clients;
  for (size_t i = 0; i < asks.size(); ++i)
    clients.emplace_back([&, i] {
      go.arrive_and_wait();
      replies[i] =
          post(one.port, {{"messages", {{{"role", "user"}, {"content", asks[i]}}}}, {"max_tokens", 24}});
    });
  for (std::thread& t : clients) t.join();
  double prompt = 0, generated = 0;
  for (const Reply& r : replies) {
    ASSERT_EQ(r.status, 200) << r.body.dump();
    prompt += r.body["usage"]["prompt_tokens"].get<double>();
    generated += r.body["usage"]["completion_tokens"].get<double>();
  }
  // The engine counts a turn once it has ended, which may be just after its answer went out.
  ASSERT_TRUE(wait_for_health(one.port, [](const Json& h) { return h["generations"]["completed"] == 4; }));
  client(one.port).Get("/v1/nothing");
  auto res = client(one.port).Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4");
  auto m = samples(res->body);
  EXPECT_EQ(m[R"(baleen_requests_total{route="/v1/chat/completions",status="200"})"], 4) << res->body;
  EXPECT_EQ(m[R"(baleen_requests_total{route="other",status="404"})"], 1) << res->body;
  EXPECT_EQ(m[R"(baleen_generations_total{outcome="completed"})"], 4);
  EXPECT_EQ(m["baleen_prompt_tokens_total"], prompt);
  EXPECT_EQ(m["baleen_generated_tokens_total"], generated);
  EXPECT_EQ(m["baleen_running_sequences"], 0);
  EXPECT_EQ(m["baleen_waiting_sequences"], 0);
  EXPECT_GT(m["baleen_state_memory_bytes"], 0);
  EXPECT_EQ(m["baleen_batch_size_count"], m["baleen_steps_total"]);
  EXPECT_GE(m["baleen_batch_size_sum"], m["baleen_steps_total"]);
  EXPECT_EQ(m[R"(baleen_batch_size_bucket{le="+Inf"})"], m["baleen_steps_total"]);
  EXPECT_EQ(m["baleen_time_to_first_token_seconds_count"], 4);
  EXPECT_EQ(m["baleen_inter_token_latency_seconds_count"], generated - 4);
  EXPECT_LE(m[R"(baleen_inter_token_latency_seconds_bucket{le="0.001"})"],
            m[R"(baleen_inter_token_latency_seconds_bucket{le="2.5"})"]);
}

}  // namespace
}  // namespace baleen::server
