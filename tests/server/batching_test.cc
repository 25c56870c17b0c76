// Continuous batching is exact (issue 19's acceptance): 16 requests sent at once — all four APIs, streaming
// and not, short and long prompts, so prefill chunks and decode tokens share steps — get the greedy answers
// each gets when it is sent alone.
#include <gtest/gtest.h>

#include <latch>
#include <thread>

#include "agent/workspace_tools.h"
#include "nano_server.h"

namespace baleen::server {
namespace {

using chat::Json;

struct Request {
  std::string path;
  Json body;
};

// Keys whose values differ from one request to the next (ids, times, signatures) or with what the prefix
// cache held (usage's cached tokens): dropped before answers are compared.
void strip_volatile(Json& j) {
  if (j.is_array()) {
    for (Json& e : j) strip_volatile(e);
  } else if (j.is_object()) {
    for (const char* key : {"id", "item_id", "call_id", "created", "created_at", "signature", "usage"})
      j.erase(key);
    for (auto& [key, value] : j.items()) strip_volatile(value);
  }
}

// A reply as it can be compared: the status and the body, or for a stream every `data:` event, stripped.
std::string answer(int port, const Request& r) {
  auto res = client(port).Post(r.path, r.body.dump(), "application/json");
  if (!res) return "no reply: " + httplib::to_string(res.error());
  Json out = {{"status", res->status}};
  if (r.body.value("stream", false)) {
    Json events = Json::array();
    for (size_t at = 0; (at = res->body.find("data: ", at)) != std::string::npos;) {
      const size_t end = res->body.find('\n', at);
      const std::string data = res->body.substr(at + 6, end - at - 6);
      events.push_back(data == "[DONE]" ? Json(data) : Json::parse(data));
      at = end;
    }
    out["events"] = events;
  } else {
    out["body"] = Json::parse(res->body);
  }
  strip_volatile(out);
  return out.dump();
}

Json tools() {
  Json t = Json::array();
  for (const Json& tool : agent::workspace_tool_schemas())
    if (tool["function"]["name"] != "search") t.push_back(tool);
  return t;
}

// 16 requests: each API, with and without streaming, tools and thinking, and a few long prompts (a file's
// text pasted in) whose prefill spans several steps.
std::vector<Request> requests() {
  const std::vector<std::string> asks = {"Who are you?", "How many lines are in notes.txt?",
                                         "Count the lines of logs/app.log.", "What is in notes.md?"};
  std::string pasted;
  for (int i = 0; i < 60; ++i) pasted += fmt::format("line {}: the quick brown fox {}\n", i, i * 7 % 13);
  std::vector<Request> out;
  for (int i = 0; i < 16; ++i) {
    std::string ask = asks[static_cast<size_t>(i) % asks.size()];
    if (i % 5 == 4) ask = "Here is a file:\n" + pasted.substr(0, 400 + 150 * static_cast<size_t>(i)) + ask;
    const bool stream = i % 2 == 1;
    const Json messages = {{{"role", "user"}, {"content", ask}}};
    switch (i % 4) {
      case 0:
        out.push_back({"/v1/chat/completions",
                       {{"messages", messages}, {"tools", tools()}, {"max_tokens", 40}, {"stream", stream}}});
        break;
      case 1:
        out.push_back({"/v1/messages",
                       {{"model", "claude-sonnet-4-5"},
                        {"max_tokens", 40},
                        {"messages", messages},
                        {"thinking", {{"type", "enabled"}, {"budget_tokens", 1024}}},
                        {"stream", stream}}});
        break;
      case 2:
        out.push_back({"/v1/responses", {{"input", ask}, {"max_output_tokens", 40}, {"stream", stream}}});
        break;
      case 3:
        out.push_back({"/v1/completions",
                       {{"prompt", "<｜User｜>" + ask + "<｜Assistant｜></think>"},
                        {"max_tokens", 40},
                        {"stream", stream}}});
        break;
    }
  }
  return out;
}

// Each server starts with an empty prefix cache. The batched one feeds at most 96 tokens a step, so the
// long prompts' prefill is cut into pieces that share steps with the others' decode tokens.
TEST(Batching, SixteenConcurrentRequestsGetTheAnswersEachGetsAlone) {
  REQUIRE_NANO();
  const std::vector<Request> rs = requests();
  std::vector<std::string> alone;
  {
    ScopedServer one(*s->model, serve_options({}));
    for (const Request& r : rs) alone.push_back(answer(one.port, r));
  }
  ServerOptions options = serve_options({});
  options.scheduling.max_running = 16;
  options.scheduling.step_tokens = 96;
  ScopedServer batched(*s->model, options);
  std::vector<std::string> together(rs.size());
  std::latch go(static_cast<ptrdiff_t>(rs.size()));
  std::vector<std::thread> clients;
  for (size_t i = 0; i < rs.size(); ++i)
    clients.emplace_back([&, i] {
      go.arrive_and_wait();
      together[i] = answer(batched.port, rs[i]);
    });
  for (std::thread& t : clients) t.join();
  // They did share steps (how many at once depends on how fast the handlers render them).
  const std::string metrics = client(batched.port).Get("/metrics")->body;
  auto sample = [&](const std::string& name) {
    const size_t at = metrics.find("\n" + name + " ");
    return at == std::string::npos ? -1.0 : std::stod(metrics.substr(at + name.size() + 2));
  };
  EXPECT_LT(sample(R"(baleen_batch_size_bucket{le="1"})"), sample("baleen_batch_size_count")) << metrics;
  for (size_t i = 0; i < rs.size(); ++i) {
    EXPECT_NE(alone[i].find("\"status\":200"), std::string::npos) << rs[i].path << ": " << alone[i];
    EXPECT_EQ(together[i], alone[i]) << "request " << i << " (" << rs[i].path << ") differs when batched";
  }
}

// Under a state memory budget that holds about two of them, four long generations at once preempt each
// other (parked, then recomputed from the cache's deepest prefix) and still get the answers each gets alone.
// The model is this test's own: the budget counts every state on its backend.
TEST(Batching, PreemptedGenerationsGetTheAnswersEachGetsAlone) {
  REQUIRE_NANO();
  const std::unique_ptr<session::LoadedModel> model = load_nano();
  std::string pasted;
  for (int i = 0; i < 90; ++i) pasted += fmt::format("line {}: the quick brown fox {}\n", i, i * 7 % 13);
  std::vector<Request> rs;
  for (int i = 0; i < 4; ++i)
    rs.push_back(
        {"/v1/completions",
         {{"prompt",
           fmt::format("<｜User｜>Here is file {}:\n{}How many lines are in it?<｜Assistant｜></think>", i,
                       pasted.substr(static_cast<size_t>(i) * 40))},
          {"max_tokens", 48}}});
  std::vector<std::string> alone;
  int64_t one = 0;  // the state memory of one finished turn, its cache entry alone kept
  {
    ServerOptions options = serve_options({});
    options.scheduling.cache.max_entries = 1;
    ScopedServer server(*model, options);
    for (const Request& r : rs) alone.push_back(answer(server.port, r));
    const std::string metrics = client(server.port).Get("/metrics")->body;
    const size_t at = metrics.find("\nbaleen_state_memory_bytes ");
    ASSERT_NE(at, std::string::npos) << metrics;
    one = std::stoll(metrics.substr(at + 27));
  }
  ASSERT_GT(one, 0);
  ServerOptions options = serve_options({});
  options.scheduling.max_state_bytes = one * 5 / 2;
  ScopedServer tight(*model, options);
  // Whether the four overlap enough to preempt depends on when their requests arrive (a slow build can
  // stagger them): up to three rounds, each checked, until one preempts.
  std::string metrics;
  for (int round = 0; round < 3; ++round) {
    std::vector<std::string> together(rs.size());
    std::latch go(static_cast<ptrdiff_t>(rs.size()));
    std::vector<std::thread> clients;
    for (size_t i = 0; i < rs.size(); ++i)
      clients.emplace_back([&, i] {
        go.arrive_and_wait();
        together[i] = answer(tight.port, rs[i]);
      });
    for (std::thread& t : clients) t.join();
    for (size_t i = 0; i < rs.size(); ++i) {
      EXPECT_NE(alone[i].find("\"status\":200"), std::string::npos) << alone[i];
      EXPECT_EQ(together[i], alone[i]) << "request " << i << " differs when preempted (round " << round << ")";
    }
    metrics = client(tight.port).Get("/metrics")->body;
    if (metrics.find("\nbaleen_preemptions_total 0\n") == std::string::npos) break;
  }
  EXPECT_EQ(metrics.find("\nbaleen_preemptions_total 0\n"), std::string::npos)
      << "nothing was preempted in three rounds under a budget of " << options.scheduling.max_state_bytes
      << " bytes\n"
      << metrics;
}

}  // namespace
}  // namespace baleen::server
