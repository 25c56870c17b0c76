// OpenAI's sampling fields end to end on baleen-nano: logprobs / top_logprobs (Chat Completions and
// Completions, whole and streamed) and presence / frequency penalties.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "nano_server.h"
#include "server/logprobs_json.h"
#include "tokenizer/utf8.h"

namespace baleen::server {
namespace {

using chat::Json;

const std::string kRawPrompt =
    "<｜begin▁of▁sentence｜><｜User｜>Write a list of fruits.<｜Assistant｜></think>";

std::vector<Json> data_events(const std::string& body) {
  std::vector<Json> events;
  for (size_t at = 0; (at = body.find("data: ", at)) != std::string::npos;) {
    const size_t end = body.find("\n\n", at);
    const std::string data = body.substr(at + 6, end - at - 6);
    if (data != "[DONE]") events.push_back(Json::parse(data));
    at = end;
  }
  return events;
}

std::string streamed_body(int port, Json request, const std::string& path) {
  request["stream"] = true;
  auto res = client(port).Post(path, request.dump(), "application/json");
  EXPECT_TRUE(res);
  if (!res) return "";
  EXPECT_EQ(res->status, 200) << res->body;
  return res->body;
}

std::string bytes_text(const Json& bytes) {
  std::string out;
  for (const Json& b : bytes) out += static_cast<char>(b.get<int>());
  return out;
}

TEST(Sampling, ChatLogprobsCoverTheContentAndStreamTheSame) {
  REQUIRE_NANO();
  const Json request = {{"messages", {{{"role", "user"}, {"content", "Say hello."}}}},
                        {"max_tokens", 24},
                        {"logprobs", true},
                        {"top_logprobs", 3}};
  const Reply whole = post(s->port, request);
  ASSERT_EQ(whole.status, 200) << whole.body.dump();
  const Json& choice = whole.body["choices"][0];
  ASSERT_FALSE(choice["message"].contains("tool_calls")) << "pick a prompt nano answers in text";
  const Json& content = choice["logprobs"]["content"];
  ASSERT_TRUE(content.is_array()) << choice.dump();
  EXPECT_TRUE(choice["logprobs"]["refusal"].is_null());
  // Every completion token but a final EOS; their bytes make the content.
  const int64_t completion = whole.body["usage"]["completion_tokens"];
  EXPECT_EQ(static_cast<int64_t>(content.size()), completion - (choice["finish_reason"] == "stop" ? 1 : 0));
  std::string text;
  for (const Json& t : content) {
    text += bytes_text(t["bytes"]);
    EXPECT_LE(t["logprob"].get<double>(), 0.0);
    ASSERT_EQ(t["top_logprobs"].size(), 3u);
    EXPECT_EQ(t["top_logprobs"][0]["token"], t["token"]);  // temperature 0: the most likely one
    EXPECT_EQ(t["top_logprobs"][0]["logprob"], t["logprob"]);
    for (size_t i = 1; i < 3; ++i)
      EXPECT_LE(t["top_logprobs"][i]["logprob"].get<double>(),
                t["top_logprobs"][i - 1]["logprob"].get<double>());
  }
  EXPECT_EQ(text, choice["message"]["content"]);
  Json streamed = Json::array();
  for (const Json& e : data_events(streamed_body(s->port, request, "/v1/chat/completions"))) {
    if (e["choices"].empty() || e["choices"][0]["logprobs"].is_null()) continue;
    for (const Json& t : e["choices"][0]["logprobs"]["content"]) streamed.push_back(t);
  }
  EXPECT_EQ(streamed, content);
  const Reply without = post(s->port, {{"messages", request["messages"]}, {"max_tokens", 4}});
  EXPECT_TRUE(without.body["choices"][0]["logprobs"].is_null());
}

TEST(Sampling, CompletionsLogprobsHaveOffsetsAndStreamTheSame) {
  REQUIRE_NANO();
  const Json request = {{"prompt", kRawPrompt}, {"max_tokens", 16}, {"logprobs", 2}};
  const Reply whole = post(s->port, request, "/v1/completions");
  ASSERT_EQ(whole.status, 200) << whole.body.dump();
  const Json& choice = whole.body["choices"][0];
  const Json& lp = choice["logprobs"];
  const std::string text = choice["text"];
  ASSERT_FALSE(lp["tokens"].empty()) << lp.dump();
  ASSERT_EQ(lp["tokens"].size(), lp["token_logprobs"].size());
  ASSERT_EQ(lp["tokens"].size(), lp["top_logprobs"].size());
  ASSERT_EQ(lp["tokens"].size(), lp["text_offset"].size());
  const tokenizer::Tokenizer& tok = s->model->tokenizer();
  const std::vector<uint32_t> ids = tok.encode(text);
  size_t offset = 0;
  std::string joined;
  for (size_t i = 0; i < lp["tokens"].size(); ++i) {
    EXPECT_EQ(lp["text_offset"][i], offset);
    EXPECT_EQ(lp["top_logprobs"][i].size(), 2u);
    const double best = lp["top_logprobs"][i].begin().value();
    EXPECT_EQ(best, lp["token_logprobs"][i].get<double>());  // greedy
    joined += lp["tokens"][i].get<std::string>();
    offset = joined.size();
  }
  EXPECT_EQ(joined, text);  // nano's answer here is whole characters token by token
  Json streamed = {
      {"tokens", Json::array()}, {"token_logprobs", Json::array()}, {"text_offset", Json::array()}};
  for (const Json& e : data_events(streamed_body(s->port, request, "/v1/completions"))) {
    if (e["choices"].empty() || e["choices"][0]["logprobs"].is_null()) continue;
    for (const char* key : {"tokens", "token_logprobs", "text_offset"})
      for (const Json& v : e["choices"][0]["logprobs"][key]) streamed[key].push_back(v);
  }
  for (const char* key : {"tokens", "token_logprobs", "text_offset"})
    EXPECT_EQ(streamed[key], lp[key]) << key;
  // A stop sequence cuts the logprobs with the text.
  ASSERT_GE(text.size(), 4u);
  Json stopped = request;
  stopped["stop"] = text.substr(text.size() / 2, 2);
  const Reply cut = post(s->port, stopped, "/v1/completions");
  ASSERT_EQ(cut.status, 200) << cut.body.dump();
  std::string cut_tokens;
  for (const Json& t : cut.body["choices"][0]["logprobs"]["tokens"]) cut_tokens += t.get<std::string>();
  const std::string cut_text = cut.body["choices"][0]["text"];
  EXPECT_GE(cut_tokens.size(), cut_text.size());
  EXPECT_LT(cut_tokens.size() - cut_text.size(), 8u) << cut_tokens;
  EXPECT_EQ(cut_tokens.substr(0, cut_text.size()), cut_text);
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = 0; (at = text.find(what, at)) != std::string::npos; at += what.size()) ++n;
  return n;
}

// Greedy nano continues "1 1 1 ..." with " 1" to the end; a frequency penalty over the generated tokens
// pushes it off the repeated token.
TEST(Sampling, FrequencyPenaltyMovesTheGreedyAnswerOffRepeatedTokens) {
  REQUIRE_NANO();
  const Json plain = {{"prompt", "1 1 1 1 1 1 1 1"}, {"max_tokens", 16}};
  Json penalized = plain;
  penalized["frequency_penalty"] = 2.0;
  const Reply a = post(s->port, plain, "/v1/completions");
  const Reply b = post(s->port, penalized, "/v1/completions");
  ASSERT_EQ(a.status, 200) << a.body.dump();
  ASSERT_EQ(b.status, 200) << b.body.dump();
  const std::string repeated = a.body["choices"][0]["text"], varied = b.body["choices"][0]["text"];
  EXPECT_EQ(count(repeated, " 1"), 8u) << repeated;
  EXPECT_LT(count(varied, " 1"), 3u) << varied;
  // Logprobs with the penalty are of the penalized row: the sampled token is still its most likely.
  penalized["logprobs"] = 1;
  const Reply c = post(s->port, penalized, "/v1/completions");
  ASSERT_EQ(c.status, 200) << c.body.dump();
  EXPECT_EQ(c.body["choices"][0]["text"], varied);
  const Json& lp = c.body["choices"][0]["logprobs"];
  ASSERT_FALSE(lp["tokens"].empty());
  for (size_t i = 0; i < lp["tokens"].size(); ++i)
    EXPECT_EQ(lp["top_logprobs"][i].begin().value().get<double>(), lp["token_logprobs"][i].get<double>());
  // A presence penalty does it too, and the chat route reads both.
  Json presence = plain;
  presence["presence_penalty"] = 2.0;
  EXPECT_NE(post(s->port, presence, "/v1/completions").body["choices"][0]["text"], repeated);
  const Json story = {{"messages", {{{"role", "user"}, {"content", "Tell me a long story."}}}},
                      {"max_tokens", 48}};
  Json story_penalized = story;
  story_penalized["frequency_penalty"] = 2.0;
  EXPECT_NE(post(s->port, story).body["choices"][0]["message"],
            post(s->port, story_penalized).body["choices"][0]["message"]);
}

// Byte-level BPE has tokens that are part of a UTF-8 character: named "bytes:\xNN", their bytes exact,
// and the body stays valid JSON.
TEST(Sampling, LogprobsOfPartialUtf8TokensAreValidJson) {
  REQUIRE_NANO();
  const tokenizer::Tokenizer& tok = s->model->tokenizer();
  int32_t partial = -1, whole = -1;
  for (uint32_t id = 0; id < tok.size() && (partial < 0 || whole < 0); ++id) {
    if (!tok.is_defined(id) || tok.is_special(id)) continue;
    const std::string_view b = tok.token_bytes(id);
    (tokenizer::is_valid_utf8(b) ? whole : partial) = static_cast<int32_t>(id);
  }
  ASSERT_GE(partial, 0);
  ASSERT_GE(whole, 0);
  const std::string bytes(tok.token_bytes(static_cast<uint32_t>(partial)));
  const std::vector<TokenLogprob> tokens = {{partial, -0.5, {{partial, -0.5}, {whole, -1.5}}}};
  LogprobsJson json(tok, 3);
  const Json chat = Json::parse(json.chat(tokens).dump());  // dump() throws on invalid UTF-8
  const Json& t = chat["content"][0];
  std::string name = "bytes:";
  for (const char c : bytes) name += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
  EXPECT_EQ(t["token"], name);
  EXPECT_EQ(bytes_text(t["bytes"]), bytes);
  EXPECT_EQ(t["logprob"], -0.5);
  EXPECT_EQ(t["top_logprobs"][1]["token"], std::string(tok.token_bytes(static_cast<uint32_t>(whole))));
  const Json text = Json::parse(json.text(tokens).dump());
  EXPECT_EQ(text["tokens"][0], name);
  EXPECT_EQ(text["text_offset"][0], 3);
  EXPECT_EQ(json.text(tokens)["text_offset"][0], 3 + static_cast<int64_t>(bytes.size()));
  EXPECT_EQ(json_logprob(-std::numeric_limits<double>::infinity()), -9999.0);
}

// Responses: the message's output_text part carries its tokens' logprobs (include or top_logprobs), and a
// stream sends the same ones on its deltas and the done event.
TEST(Sampling, ResponsesLogprobsRideOnTheOutputTextWholeAndStreamed) {
  REQUIRE_NANO();
  const Json request = {{"input", "Say hello."},
                        {"max_output_tokens", 24},
                        {"temperature", 0},
                        {"reasoning", {{"effort", "none"}}},
                        {"include", {"message.output_text.logprobs"}},
                        {"top_logprobs", 2}};
  const Reply whole = post(s->port, request, "/v1/responses");
  ASSERT_EQ(whole.status, 200) << whole.body.dump();
  EXPECT_EQ(whole.body["top_logprobs"], 2);
  Json part;
  for (const Json& item : whole.body["output"])
    if (item["type"] == "message") part = item["content"][0];
  ASSERT_TRUE(part.is_object()) << whole.body.dump();
  const Json& logprobs = part["logprobs"];
  ASSERT_FALSE(logprobs.empty()) << part.dump();
  std::string text;
  for (const Json& t : logprobs) {
    text += bytes_text(t["bytes"]);
    ASSERT_EQ(t["top_logprobs"].size(), 2u);
    EXPECT_EQ(t["top_logprobs"][0]["token"], t["token"]);  // greedy
    EXPECT_LE(t["logprob"].get<double>(), 0.0);
  }
  EXPECT_EQ(text, part["text"]);

  Json stream_request = request;
  stream_request["stream"] = true;
  auto res = client(s->port).Post("/v1/responses", stream_request.dump(), "application/json");
  ASSERT_TRUE(res);
  Json deltas = Json::array(), done;
  for (const Json& e : data_events(res->body)) {
    if (e["type"] == "response.output_text.delta")
      for (const Json& t : e["logprobs"]) deltas.push_back(t);
    if (e["type"] == "response.output_text.done") done = e["logprobs"];
  }
  EXPECT_EQ(deltas, logprobs);
  EXPECT_EQ(done, logprobs);

  Json plain = request;
  plain.erase("include");
  plain.erase("top_logprobs");
  const Reply without = post(s->port, plain, "/v1/responses");
  ASSERT_EQ(without.status, 200) << without.body.dump();
  for (const Json& item : without.body["output"])
    if (item["type"] == "message") {
      EXPECT_TRUE(item["content"][0]["logprobs"].empty());
    }
}

TEST(Sampling, BadValuesAre400sNamingTheField) {
  REQUIRE_NANO();
  const Json chat = {{"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"max_tokens", 2}};
  struct Case {
    std::string path, key;
    Json value;
  };
  const std::vector<Case> cases = {
      {"/v1/chat/completions", "presence_penalty", 3},
      {"/v1/chat/completions", "frequency_penalty", "x"},
      {"/v1/chat/completions", "top_logprobs", 21},
      {"/v1/chat/completions", "logprobs", "yes"},
      {"/v1/chat/completions", "n", 0},
      {"/v1/completions", "logprobs", 6},
      {"/v1/completions", "logprobs", true},
      {"/v1/completions", "presence_penalty", -2.5},
      {"/v1/responses", "top_logprobs", 21},
      {"/v1/responses", "include", Json::array({1})},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.path + " " + c.key + "=" + c.value.dump());
    Json body = c.path == "/v1/completions" ? Json{{"prompt", kRawPrompt}, {"max_tokens", 2}}
                : c.path == "/v1/responses"   ? Json{{"input", "hi"}, {"max_output_tokens", 2}}
                                              : chat;
    body[c.key] = c.value;
    if (c.key == "top_logprobs" && c.path != "/v1/responses") body["logprobs"] = true;
    const Reply r = post(s->port, body, c.path);
    EXPECT_EQ(r.status, 400) << r.body.dump();
    EXPECT_EQ(r.body["error"]["param"], c.key == "include" ? "include[0]" : c.key) << r.body.dump();
    EXPECT_EQ(r.body["error"]["type"], "invalid_request_error") << r.body.dump();
  }
}

}  // namespace
}  // namespace baleen::server
