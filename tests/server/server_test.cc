#include "server/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <thread>

#include "agent/workspace_tools.h"
#include "nano_server.h"

namespace baleen::server {
namespace {

using chat::Json;

// The five tools nano was trained on (reference/nano/tools.py), without the agent's extra `search`.
Json trained_tools() {
  Json tools = Json::array();
  for (const Json& t : agent::workspace_tool_schemas())
    if (t["function"]["name"] != "search") tools.push_back(t);
  return tools;
}

Json tool_request(const std::string& question) {
  return {{"model", "baleen-nano"},
          {"messages",
           {{{"role", "system"},
             {"content",
              "You are baleen-nano, a helpful assistant. You can use tools to work in a small workspace."}},
            {{"role", "user"}, {"content", question}}}},
          {"tools", trained_tools()},
          {"chat_template_kwargs", {{"thinking", true}}},
          {"max_tokens", 96}};
}

// The arguments object of a call, checked against its tool's schema: required keys present, every key a
// declared property of the declared JSON type.
void expect_matches_schema(const Json& call) {
  const std::string name = call["function"]["name"];
  const Json arguments = Json::parse(call["function"]["arguments"].get<std::string>());
  ASSERT_TRUE(arguments.is_object()) << arguments.dump();
  const Json tools = trained_tools();
  const auto tool =
      std::find_if(tools.begin(), tools.end(), [&](const Json& t) { return t["function"]["name"] == name; });
  ASSERT_NE(tool, tools.end()) << "unknown tool " << name;
  const Json* function = &(*tool)["function"];
  const Json& params = (*function)["parameters"];
  for (const Json& key : params["required"]) EXPECT_TRUE(arguments.contains(key)) << name << " lacks " << key;
  for (const auto& [key, value] : arguments.items()) {
    ASSERT_TRUE(params["properties"].contains(key)) << name << " has no parameter " << key;
    const std::string type = params["properties"][key]["type"];
    const bool typed = type == "string"    ? value.is_string()
                       : type == "number"  ? value.is_number()
                       : type == "boolean" ? value.is_boolean()
                                           : true;
    EXPECT_TRUE(typed) << key << " is not a " << type << ": " << value.dump();
  }
}

// The data events of an SSE body, [DONE] as the string "[DONE]".
std::vector<Json> sse_events(const std::string& body) {
  std::vector<Json> events;
  for (size_t at = 0; at < body.size();) {
    const size_t end = body.find("\n\n", at);
    EXPECT_NE(end, std::string::npos) << "unterminated event: " << body.substr(at);
    if (end == std::string::npos) break;
    const std::string event = body.substr(at, end - at);
    EXPECT_EQ(event.rfind("data: ", 0), 0u) << event;
    const std::string data = event.substr(6);
    events.push_back(data == "[DONE]" ? Json("[DONE]") : Json::parse(data));
    at = end + 2;
  }
  return events;
}

// The assistant message and finish reason a stream adds up to, in the non-streaming shape.
Json accumulate(const std::vector<Json>& events, Json& usage) {
  Json message = {{"role", "assistant"}, {"content", ""}}, finish;
  std::string reasoning;
  for (const Json& e : events) {
    if (e == "[DONE]") break;
    if (e.contains("usage") && !e["usage"].is_null()) usage = e["usage"];
    if (e["choices"].empty()) continue;
    const Json& choice = e["choices"][0];
    if (!choice["finish_reason"].is_null()) finish = choice["finish_reason"];
    const Json& delta = choice["delta"];
    if (delta.contains("content"))
      message["content"] = message["content"].get<std::string>() + delta["content"].get<std::string>();
    if (delta.contains("reasoning_content")) reasoning += delta["reasoning_content"].get<std::string>();
    for (const Json& call : delta.value("tool_calls", Json::array())) {
      EXPECT_EQ(call["index"], message.value("tool_calls", Json::array()).size());
      Json whole = call;
      whole.erase("index");
      message["tool_calls"].push_back(whole);
    }
  }
  if (!reasoning.empty()) message["reasoning_content"] = reasoning;
  if (message.contains("tool_calls") && message["content"] == "") message["content"] = nullptr;
  return {{"message", message}, {"finish_reason", finish}};
}

TEST(Server, HealthAndModels) {
  REQUIRE_NANO();
  auto c = client(s->port);
  auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(Json::parse(health->body)["status"], "ok");
  auto models = c.Get("/v1/models");
  ASSERT_TRUE(models);
  const Json list = Json::parse(models->body);
  ASSERT_EQ(list["data"].size(), 1u) << list.dump();
  EXPECT_EQ(list["data"][0]["id"], "baleen-nano");
  EXPECT_EQ(list["data"][0]["max_model_len"], kMaxContext);
}

// A real tool loop: nano answers with a tool call, the client runs it and sends the result back in the
// re-sent history, nano answers; the second request reuses the session's prefix.
TEST(Server, ToolCallRoundTrip) {
  REQUIRE_NANO();
  Json request = tool_request("How many lines are in notes.txt?");
  const Reply first = post(s->port, request);
  ASSERT_EQ(first.status, 200) << first.body.dump();
  const Json& choice = first.body["choices"][0];
  ASSERT_EQ(choice["finish_reason"], "tool_calls") << first.body.dump();
  const Json& message = choice["message"];
  ASSERT_EQ(message["tool_calls"].size(), 1u) << message.dump();
  const Json& call = message["tool_calls"][0];
  EXPECT_EQ(call["type"], "function");
  EXPECT_EQ(call["id"].get<std::string>().rfind("call_", 0), 0u);
  expect_matches_schema(call);
  EXPECT_FALSE(message.value("reasoning_content", "").empty()) << "thinking mode gave no reasoning";

  std::mt19937 rng(std::random_device{}());
  const int lines = 3 + static_cast<int>(rng() % 20);
  request["messages"].push_back(message);
  request["messages"].push_back(
      {{"role", "tool"},
       {"tool_call_id", call["id"]},
       {"content", call["function"]["name"] == "run_command" ? fmt::format("{} notes.txt", lines)
                                                             : fmt::format("{} lines", lines)}});
  const Reply second = post(s->port, request);
  ASSERT_EQ(second.status, 200) << second.body.dump();
  ASSERT_EQ(second.body["choices"][0]["finish_reason"], "stop") << second.body.dump();
  EXPECT_FALSE(second.body["choices"][0]["message"]["content"].get<std::string>().empty());
  const Json& usage = second.body["usage"];
  EXPECT_GE(usage["prompt_tokens_details"]["cached_tokens"].get<int64_t>(),
            first.body["usage"]["prompt_tokens"].get<int64_t>())
      << "the re-sent history was prefilled again: " << usage.dump();
}

TEST(Server, StreamingEqualsNonStreaming) {
  REQUIRE_NANO();
  Json request = tool_request("Count the lines of logs/app.log.");
  const Reply whole = post(s->port, request);
  ASSERT_EQ(whole.status, 200) << whole.body.dump();
  request["stream"] = true;
  request["stream_options"] = {{"include_usage", true}};
  auto res = client(s->port).Post("/v1/chat/completions", request.dump(), "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/event-stream");
  const std::vector<Json> events = sse_events(res->body);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back(), "[DONE]");
  EXPECT_EQ(events.front()["choices"][0]["delta"]["role"], "assistant");
  Json usage;
  Json streamed = accumulate(events, usage);
  Json expected = whole.body["choices"][0];
  // Tool-call ids are unique per request; everything else must agree.
  for (Json* m : {&streamed["message"], &expected["message"]})
    for (Json& call : (*m).contains("tool_calls") ? (*m)["tool_calls"] : *m)
      if (call.is_object() && call.contains("id")) call["id"] = "";
  for (const char* key : {"role", "content", "reasoning_content", "tool_calls"})
    EXPECT_EQ(streamed["message"].value(key, Json()), expected["message"].value(key, Json())) << key;
  EXPECT_EQ(streamed["finish_reason"], expected["finish_reason"]);
  EXPECT_EQ(usage["completion_tokens"], whole.body["usage"]["completion_tokens"]);
  EXPECT_EQ(usage["prompt_tokens"], whole.body["usage"]["prompt_tokens"]);
}

struct ErrorCase {
  const char* name;
  std::string method, path, body;
  int status;
  std::string mention;
};

// The bad requests every API is tried with, made from a good one: an unknown field, a wrong type, another
// model's name, random words past the context (the error names both numbers).
struct BadVariants {
  Json unknown, wrong_type, other_model, too_long;
};
BadVariants bad_variants(const Json& ok) {
  BadVariants v{ok, ok, ok, ok};
  v.unknown["best_of"] = 2;
  v.wrong_type["max_tokens"] = "eight";
  v.other_model["model"] = "gpt-9";
  std::mt19937 rng(std::random_device{}());
  std::string long_text;
  while (long_text.size() < 30000) long_text += fmt::format("w{} ", rng() % 100000);
  v.too_long["messages"][0]["content"] = long_text;
  return v;
}

TEST(Server, ErrorsHaveOpenAIShape) {
  REQUIRE_NANO();
  const Json ok = {{"messages", {{{"role", "user"}, {"content", "Say hello."}}}}, {"max_tokens", 8}};
  const auto [unknown, wrong_type, other_model, too_long] = bad_variants(ok);
  Json asks_too_much = ok;
  asks_too_much["max_tokens"] = kMaxContext;
  const std::vector<ErrorCase> cases = {
      {"malformed JSON", "POST", "/v1/chat/completions", "{\"messages\": [", 400, "not valid JSON"},
      {"unknown parameter", "POST", "/v1/chat/completions", unknown.dump(), 400, "best_of"},
      {"invalid UTF-8", "POST", "/v1/chat/completions",
       "{\"messages\": [{\"role\": \"user\", \"content\": \"a\xc3\x28\"}]}", 400, "UTF-8"},
      {"wrong type", "POST", "/v1/chat/completions", wrong_type.dump(), 400, "max_tokens"},
      {"unknown model", "POST", "/v1/chat/completions", other_model.dump(), 404, "gpt-9"},
      {"over the context", "POST", "/v1/chat/completions", too_long.dump(), 400,
       fmt::format("{} tokens", kMaxContext)},
      {"max_tokens over the context", "POST", "/v1/chat/completions", asks_too_much.dump(), 400,
       "max_tokens"},
      {"unknown route", "GET", "/v1/nothing", "", 404, "/v1/nothing"},
      {"wrong method", "GET", "/v1/chat/completions", "", 405, "POST"},
      {"oversized body", "POST", "/v1/chat/completions", std::string(kMaxBody + 1, ' '), 413, "limit"},
  };
  auto c = client(s->port);
  for (const ErrorCase& e : cases) {
    SCOPED_TRACE(e.name);
    auto res = e.method == "GET" ? c.Get(e.path) : c.Post(e.path, e.body, "application/json");
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, e.status) << res->body;
    const Json body = Json::parse(res->body, nullptr, false);
    ASSERT_TRUE(body.contains("error")) << res->body;
    const Json& error = body["error"];
    EXPECT_TRUE(error["message"].is_string() && error["type"].is_string() && error.contains("param") &&
                error.contains("code"))
        << res->body;
    EXPECT_NE(error["message"].get<std::string>().find(e.mention), std::string::npos)
        << res->body << " lacks " << e.mention;
  }
  const Json over = Json::parse(c.Post("/v1/chat/completions", too_long.dump(), "application/json")->body);
  EXPECT_EQ(over["error"]["code"], "context_length_exceeded");
}

TEST(Server, ClientDisconnectStopsTheGenerationAndServerStaysHealthy) {
  REQUIRE_NANO();
  ::close(open_stream(s->port, endless_stream_request()));
  auto c = client(s->port);
  auto stats = [&] { return Json::parse(c.Get("/health")->body)["generations"]; };
  const Reply next = post(s->port, tool_request("How many lines are in notes.txt?"));
  ASSERT_EQ(next.status, 200) << next.body.dump();
  EXPECT_EQ(next.body["choices"][0]["finish_reason"], "tool_calls") << next.body.dump();
  EXPECT_GE(stats()["interrupted"].get<int64_t>(), 1) << stats().dump();
}

// What SIGTERM does in `baleen serve`: stop() ends the running stream (no [DONE]) and run() returns.
TEST(Server, StopEndsTheRunningStreamAndRunReturns) {
  REQUIRE_NANO();
  session::TurnOptions defaults;
  Server server(*s->model, serve_options(defaults));
  const int port = server.bind("127.0.0.1", 0);
  std::thread running([&] { server.run(); });
  const int fd = open_stream(port, endless_stream_request());
  server.stop();
  running.join();
  const std::string rest = read_to_end(fd);
  EXPECT_EQ(rest.find("[DONE]"), std::string::npos) << rest;
}

// The same bad input on Anthropic's route: Anthropic's error shape, and the server keeps serving.
TEST(Server, MessagesErrorsHaveAnthropicShape) {
  REQUIRE_NANO();
  const Json ok = {{"model", "claude-opus-5-5"}, {"max_tokens", 8},
                   {"messages", {{{"role", "user"}, {"content", "Say hello."}}}}};
  const auto [unknown, wrong_type, other_model, too_long] = bad_variants(ok);
  Json orphan = ok;
  orphan["messages"][0]["content"] = {{{"type", "tool_result"}, {"tool_use_id", "toolu_x"}, {"content", "3"}}};
  const std::vector<ErrorCase> cases = {
      {"malformed JSON", "POST", "/v1/messages", "{\"messages\": [", 400, "not valid JSON"},
      {"unknown parameter", "POST", "/v1/messages?beta=true", unknown.dump(), 400, "best_of"},
      {"invalid UTF-8", "POST", "/v1/messages", "{\"messages\": [{\"role\": \"user\", \"content\": \"a\xc3\x28\"}]}", 400,
       "UTF-8"},
      {"wrong type", "POST", "/v1/messages", wrong_type.dump(), 400, "max_tokens"},
      {"unknown model", "POST", "/v1/messages", other_model.dump(), 404, "gpt-9"},
      {"over the context", "POST", "/v1/messages", too_long.dump(), 400, "prompt is too long"},
      {"tool_result without its tool_use", "POST", "/v1/messages", orphan.dump(), 400, "toolu_x"},
      {"wrong method", "GET", "/v1/messages", "", 405, "POST"},
      {"oversized body", "POST", "/v1/messages", std::string(kMaxBody + 1, ' '), 413, "limit"},
  };
  auto c = client(s->port);
  for (const ErrorCase& e : cases) {
    SCOPED_TRACE(e.name);
    auto res = e.method == "GET" ? c.Get(e.path) : c.Post(e.path, e.body, "application/json");
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, e.status) << res->body;
    const Json body = Json::parse(res->body, nullptr, false);
    EXPECT_EQ(body.value("type", ""), "error") << res->body;
    ASSERT_TRUE(body.contains("error") && body["error"]["type"].is_string()) << res->body;
    EXPECT_EQ(body["error"]["type"], e.status == 404   ? "not_found_error"
                                     : e.status == 413 ? "request_too_large"
                                                       : "invalid_request_error");
    EXPECT_NE(body["error"]["message"].get<std::string>().find(e.mention), std::string::npos)
        << res->body << " lacks " << e.mention;
  }
  const Reply after = post(s->port, ok, "/v1/messages");
  EXPECT_EQ(after.status, 200) << after.body.dump();
}

TEST(Server, ResponsesErrorsAndOverflow) {
  REQUIRE_NANO();
  auto c = client(s->port);
  auto unknown = c.Post("/v1/responses", R"({"input": "hi", "best_of": 2})", "application/json");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 400);
  EXPECT_EQ(Json::parse(unknown->body)["error"]["param"], "best_of") << unknown->body;
  std::string long_text;
  while (long_text.size() < 30000) long_text += "word ";
  auto over = c.Post("/v1/responses", Json{{"input", long_text}}.dump(), "application/json");
  ASSERT_TRUE(over);
  EXPECT_EQ(over->status, 400);
  EXPECT_EQ(Json::parse(over->body)["error"]["code"], "context_length_exceeded") << over->body;
  auto streamed = c.Post("/v1/responses", Json{{"input", long_text}, {"stream", true}}.dump(), "application/json");
  ASSERT_TRUE(streamed);
  EXPECT_EQ(streamed->status, 200);
  EXPECT_NE(streamed->body.find("event: response.failed"), std::string::npos) << streamed->body;
  EXPECT_NE(streamed->body.find("\"code\":\"context_length_exceeded\""), std::string::npos) << streamed->body;
  auto missing = c.Get("/v1/responses/resp_nothing");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  httplib::Headers upgrade = {{"Connection", "Upgrade"}, {"Upgrade", "websocket"}};
  auto ws = c.Get("/v1/responses", upgrade);
  ASSERT_TRUE(ws);
  EXPECT_EQ(ws->status, 405);
  EXPECT_NE(ws->body.find("WebSocket"), std::string::npos) << ws->body;
}

TEST(Server, MessagesClientDisconnectMidStreamKeepsServing) {
  REQUIRE_NANO();
  // Messages has no seed field: the server's default seed makes this the chat case's endless stream.
  session::TurnOptions defaults;
  defaults.sampling.seed = endless_stream_request()["seed"];
  Server server(*s->model, serve_options(defaults));
  const int port = server.bind("127.0.0.1", 0);
  std::thread running([&] { server.run(); });
  auto c = client(port);
  Json endless = endless_stream_request();
  endless.erase("seed");
  endless["model"] = "claude-sonnet-4-5";
  ::close(open_stream(port, endless, "/v1/messages", "text_delta"));
  const Reply next = post(port, tool_request("How many lines are in notes.txt?"));
  ASSERT_EQ(next.status, 200) << next.body.dump();
  EXPECT_EQ(Json::parse(c.Get("/health")->body)["generations"]["interrupted"], 1);
  server.stop();
  running.join();
}

// An assistant turn the server generated, sent back without its reasoning and with its arguments
// re-serialized, renders to the sampled tokens: the next turn reuses the previous prompt and completion.
TEST(Server, ReplayedTurnReusesThePreviousPromptAndCompletion) {
  REQUIRE_NANO();
  Json request = tool_request("How many lines are in notes.txt?");
  const Reply first = post(s->port, request);
  ASSERT_EQ(first.status, 200) << first.body.dump();
  Json message = first.body["choices"][0]["message"];
  ASSERT_TRUE(message.contains("tool_calls")) << message.dump();
  message.erase("reasoning_content");
  Json& call = message["tool_calls"][0];
  const Json args = Json::parse(call["function"]["arguments"].get<std::string>());
  call["function"]["arguments"] = args.dump(2);
  request["messages"].push_back(message);
  request["messages"].push_back({{"role", "tool"}, {"tool_call_id", call["id"]}, {"content", "7 notes.txt"}});
  const Reply second = post(s->port, request);
  ASSERT_EQ(second.status, 200) << second.body.dump();
  const int64_t previous = first.body["usage"]["total_tokens"];
  const int64_t reused = second.body["usage"]["prompt_tokens_details"]["cached_tokens"];
  EXPECT_GE(reused, previous * 95 / 100) << "reused " << reused << " of " << previous;
}

TEST(Server, ApiKeyIsRequiredWhenSet) {
  REQUIRE_NANO();
  ServerOptions options = serve_options({});
  options.api_key = "sekrit";
  Server server(*s->model, options);
  const int port = server.bind("127.0.0.1", 0);
  std::thread running([&] { server.run(); });
  auto c = client(port);
  const std::string body = R"({"model": "claude-x", "messages": [{"role": "user", "content": "hi"}]})";
  auto none = c.Post("/v1/messages/count_tokens", body, "application/json");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_EQ(Json::parse(none->body)["error"]["type"], "authentication_error") << none->body;
  auto chat = c.Post("/v1/chat/completions", "{}", "application/json");
  ASSERT_TRUE(chat);
  EXPECT_EQ(chat->status, 401);
  EXPECT_EQ(Json::parse(chat->body)["error"]["code"], "invalid_api_key") << chat->body;
  auto keyed = c.Post("/v1/messages/count_tokens", {{"x-api-key", "sekrit"}}, body, "application/json");
  ASSERT_TRUE(keyed);
  EXPECT_EQ(keyed->status, 200) << keyed->body;
  auto bearer = c.Post("/v1/messages/count_tokens", {{"Authorization", "Bearer sekrit"}}, body, "application/json");
  ASSERT_TRUE(bearer);
  EXPECT_EQ(bearer->status, 200) << bearer->body;
  EXPECT_EQ(c.Get("/health")->status, 200);
  server.stop();
  running.join();
}

// /v1/completions continues raw text: token ids and the text they spell give the same continuation,
// the stream adds up to the whole answer, and a stop sequence ends it before the sequence.
TEST(Server, CompletionsContinueRawPrompts) {
  REQUIRE_NANO();
  const std::string text = "<｜begin▁of▁sentence｜><｜User｜>Say hello.<｜Assistant｜></think>";
  const Reply whole = post(s->port, {{"prompt", text}, {"max_tokens", 16}}, "/v1/completions");
  ASSERT_EQ(whole.status, 200) << whole.body.dump();
  EXPECT_EQ(whole.body["object"], "text_completion");
  const std::string answer = whole.body["choices"][0]["text"];
  EXPECT_FALSE(answer.empty());
  const std::vector<uint32_t> ids = s->model->tokenizer().encode(text);
  const Reply by_ids = post(s->port, {{"prompt", ids}, {"max_tokens", 16}}, "/v1/completions");
  ASSERT_EQ(by_ids.status, 200) << by_ids.body.dump();
  EXPECT_EQ(by_ids.body["choices"][0]["text"], answer);
  auto streamed = client(s->port).Post("/v1/completions",
                                       Json{{"prompt", text}, {"max_tokens", 16}, {"stream", true}}.dump(),
                                       "application/json");
  ASSERT_TRUE(streamed);
  std::string joined;
  for (const Json& e : sse_events(streamed->body))
    if (e != "[DONE]" && !e["choices"].empty()) joined += e["choices"][0]["text"].get<std::string>();
  EXPECT_EQ(joined, answer);
  ASSERT_GE(answer.size(), 2u);
  const std::string stop = answer.substr(answer.size() / 2, 1);
  const Reply stopped = post(s->port, {{"prompt", text}, {"max_tokens", 16}, {"stop", stop}}, "/v1/completions");
  ASSERT_EQ(stopped.status, 200) << stopped.body.dump();
  EXPECT_EQ(stopped.body["choices"][0]["text"], answer.substr(0, answer.find(stop)));
  EXPECT_EQ(stopped.body["choices"][0]["finish_reason"], "stop");
  const Reply bad = post(s->port, {{"prompt", Json::array({1, -5})}}, "/v1/completions");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body["error"]["param"], "prompt[1]") << bad.body.dump();
}

// The HTTP layer's own refusals reach clients in the API's error shape: a connection over --max-connections
// and a request whose headers do not come within --header-timeout.
TEST(Server, SurplusAndSlowConnectionsAreRefusedInTheApiShape) {
  REQUIRE_NANO();
  ServerOptions options = serve_options({});
  options.connections.max_connections = 2;
  options.connections.header_timeout = std::chrono::milliseconds(300);
  ScopedServer server(*s->model, options);
  const int idle = connect_to(server.port);
  const int slow = connect_to(server.port);
  const std::string head = "POST /v1/messages HTTP/1.1\r\nHost: x\r\n";
  ASSERT_EQ(::send(slow, head.data(), head.size(), 0), static_cast<ssize_t>(head.size()));
  auto refused = client(server.port).Get("/health");
  ASSERT_TRUE(refused) << httplib::to_string(refused.error());
  EXPECT_EQ(refused->status, 503);
  const Json body = Json::parse(refused->body, nullptr, false);
  EXPECT_TRUE(body["error"]["type"].is_string()) << refused->body;
  EXPECT_NE(body["error"]["message"].get<std::string>().find("limit of 2 connections"), std::string::npos)
      << refused->body;
  const std::string answer = read_to_end(slow);  // closed after its 408
  EXPECT_NE(answer.find("HTTP/1.1 408"), std::string::npos) << answer;
  EXPECT_NE(answer.find("headers did not arrive within 300 ms"), std::string::npos) << answer;
  ::close(idle);
  int status = 0;
  for (int i = 0; i < 40 && status != 200; ++i) {
    auto health = client(server.port).Get("/health");
    status = health ? health->status : 0;
    if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(status, 200);
}


// Forced tool calls (tool_choice required / a named tool) constrain decoding: for a prompt that nano
// answers in text when the choice is its own, every API answers with a parsed call of an allowed tool, at
// temperature 0 and at temperature 1 over several seeds, with and without thinking.
namespace forced {

Json chat_request(const Json& tool_choice, float temperature, uint64_t seed, bool thinking = false) {
  Json r = {{"model", "baleen-nano"},
            {"messages", {{{"role", "user"}, {"content", "Hello, who are you?"}}}},
            {"tools", trained_tools()},
            {"chat_template_kwargs", {{"thinking", thinking}}},
            {"temperature", temperature},
            {"seed", seed},
            {"max_tokens", 160}};
  if (!tool_choice.is_null()) r["tool_choice"] = tool_choice;
  return r;
}

// The calculator-like tool: numbers and a boolean, so JSON values are constrained too.
std::string typed_tool() {
  for (const Json& t : trained_tools())
    if (t["function"]["parameters"]["properties"].contains("op")) return t["function"]["name"];
  return "";
}

}  // namespace forced

TEST(Server, AutoAnswersThisPromptInText) {
  REQUIRE_NANO();
  for (const Json& choice : {Json(), Json("auto")}) {
    const Reply r = post(s->port, forced::chat_request(choice, 0, 0));
    ASSERT_EQ(r.status, 200) << r.body.dump();
    EXPECT_EQ(r.body["choices"][0]["finish_reason"], "stop") << r.body.dump();
    EXPECT_FALSE(r.body["choices"][0]["message"].contains("tool_calls")) << r.body.dump();
  }
}

TEST(Server, ChatToolChoiceRequiredOrNamedAlwaysCalls) {
  REQUIRE_NANO();
  struct Case {
    Json choice;
    float temperature;
    uint64_t seed;
    bool thinking;
    bool parallel;
  };
  const Json named = {{"type", "function"}, {"function", {{"name", forced::typed_tool()}}}};
  const std::vector<Case> cases = {
      {"required", 0, 0, false, true}, {"required", 1, 1, false, true}, {"required", 1, 2, false, true},
      {"required", 1, 3, false, true}, {"required", 0, 0, true, true},  {named, 0, 0, false, false},
      {named, 1, 4, false, false},     {named, 1, 5, true, false}};
  for (const Case& c : cases) {
    Json request = forced::chat_request(c.choice, c.temperature, c.seed, c.thinking);
    request["parallel_tool_calls"] = c.parallel;
    const Reply r = post(s->port, request);
    SCOPED_TRACE(request.dump());
    ASSERT_EQ(r.status, 200) << r.body.dump();
    const Json& choice = r.body["choices"][0];
    EXPECT_EQ(choice["finish_reason"], "tool_calls") << r.body.dump();
    const Json& calls = choice["message"].value("tool_calls", Json::array());
    ASSERT_GE(calls.size(), 1u) << r.body.dump();
    if (!c.parallel) {
      EXPECT_EQ(calls.size(), 1u) << r.body.dump();
    }
    EXPECT_TRUE(choice["message"]["content"].is_null() || choice["message"]["content"] == "") << r.body.dump();
    for (const Json& call : calls) {
      expect_matches_schema(call);
      if (c.choice.is_object()) {
        EXPECT_EQ(call["function"]["name"], forced::typed_tool());
      }
    }
  }
}

TEST(Server, MessagesToolChoiceAnyOrToolAlwaysUsesATool) {
  REQUIRE_NANO();
  const Json tools = Json::parse(R"([
    {"name": "get_weather", "description": "The weather in a city.",
     "input_schema": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                      "required": ["city"]}},
    {"name": "read_file", "description": "Read a text file.",
     "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}])");
  const std::vector<std::tuple<Json, float, uint64_t>> cases = {
      {{{"type", "any"}}, 0.0f, 0},
      {{{"type", "any"}}, 1.0f, 7},
      {{{"type", "tool"}, {"name", "get_weather"}, {"disable_parallel_tool_use", true}}, 1.0f, 8}};
  for (const auto& [choice, temperature, seed] : cases) {
    const Json request = {{"model", "baleen-nano"},
                          {"max_tokens", 160},
                          {"messages", {{{"role", "user"}, {"content", "Hello, who are you?"}}}},
                          {"tools", tools},
                          {"tool_choice", choice},
                          {"temperature", temperature},
                          {"metadata", {{"user_id", std::to_string(seed)}}}};
    SCOPED_TRACE(request.dump());
    const Reply r = post(s->port, request, "/v1/messages");
    ASSERT_EQ(r.status, 200) << r.body.dump();
    EXPECT_EQ(r.body["stop_reason"], "tool_use") << r.body.dump();
    size_t uses = 0;
    for (const Json& block : r.body["content"]) {
      EXPECT_NE(block["type"], "text") << r.body.dump();
      if (block["type"] != "tool_use") continue;
      ++uses;
      EXPECT_TRUE(block["input"].contains("city") || block["input"].contains("path")) << block.dump();
      if (choice["type"] == "tool") {
        EXPECT_EQ(block["name"], "get_weather");
      }
    }
    EXPECT_GE(uses, 1u) << r.body.dump();
    if (choice["type"] == "tool") {
      EXPECT_EQ(uses, 1u) << r.body.dump();
    }
  }
}

TEST(Server, ResponsesToolChoiceRequiredOrNamedAlwaysCalls) {
  REQUIRE_NANO();
  Json tools = Json::array();
  for (const Json& t : trained_tools()) {
    Json f = t["function"];
    f["type"] = "function";
    tools.push_back(f);
  }
  const std::vector<std::pair<Json, float>> cases = {
      {"required", 0.0f}, {{{"type", "function"}, {"name", "read_file"}}, 1.0f}};
  for (const auto& [choice, temperature] : cases) {
    const Json request = {{"model", "baleen-nano"},
                          {"input", "Hello, who are you?"},
                          {"tools", tools},
                          {"tool_choice", choice},
                          {"temperature", temperature},
                          {"max_output_tokens", 160}};
    SCOPED_TRACE(request.dump());
    const Reply r = post(s->port, request, "/v1/responses");
    ASSERT_EQ(r.status, 200) << r.body.dump();
    EXPECT_EQ(r.body["status"], "completed") << r.body.dump();
    size_t calls = 0;
    for (const Json& item : r.body["output"]) {
      EXPECT_NE(item["type"], "message") << r.body.dump();
      if (item["type"] != "function_call") continue;
      ++calls;
      EXPECT_TRUE(Json::parse(item["arguments"].get<std::string>()).is_object()) << item.dump();
      if (choice.is_object()) {
        EXPECT_EQ(item["name"], "read_file");
      }
    }
    EXPECT_GE(calls, 1u) << r.body.dump();
  }
}

}  // namespace
}  // namespace baleen::server
