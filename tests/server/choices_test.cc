// OpenAI's `n` on baleen-nano: choice i of a request is what the same request with seed + i gives alone
// (Chat Completions and Completions, whole and streamed), the prompt is prefilled once for all of them,
// and the usage counts the prompt once and every choice's completion.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "nano_server.h"

namespace baleen::server {
namespace {

using chat::Json;

const std::string kRawPrompt =
    "<｜begin▁of▁sentence｜><｜User｜>Write a list of fruits.<｜Assistant｜></think>";

double metric(int port, const std::string& name) {
  auto res = client(port).Get("/metrics");
  EXPECT_TRUE(res);
  if (!res) return -1;
  const size_t at = res->body.find("\n" + name + " ");
  EXPECT_NE(at, std::string::npos) << res->body;
  return at == std::string::npos ? -1 : std::stod(res->body.substr(at + name.size() + 2));
}

std::vector<Json> data_events(const std::string& body, int& done_marks) {
  std::vector<Json> events;
  done_marks = 0;
  for (size_t at = 0; (at = body.find("data: ", at)) != std::string::npos;) {
    const size_t end = body.find("\n\n", at);
    const std::string data = body.substr(at + 6, end - at - 6);
    if (data == "[DONE]")
      ++done_marks;
    else
      events.push_back(Json::parse(data));
    at = end;
  }
  return events;
}

std::vector<Json> streamed(int port, Json request, const std::string& path, int& done_marks) {
  request["stream"] = true;
  auto res = client(port).Post(path, request.dump(), "application/json");
  EXPECT_TRUE(res);
  if (!res) return {};
  EXPECT_EQ(res->status, 200) << res->body;
  return data_events(res->body, done_marks);
}

TEST(Choices, EachChatChoiceIsWhatItsSeedGivesAloneAndThePromptIsPrefilledOnce) {
  REQUIRE_NANO();
  ScopedServer one(*s->model, serve_options({}));  // an empty prefix cache
  Json request = {{"messages", {{{"role", "user"}, {"content", "Tell me a story about a cat."}}}},
                  {"max_tokens", 12},
                  {"temperature", 1.5},
                  {"seed", 11},
                  {"logprobs", true},
                  {"top_logprobs", 2},
                  {"n", 3}};
  const Reply whole = post(one.port, request);
  ASSERT_EQ(whole.status, 200) << whole.body.dump();
  const Json& choices = whole.body["choices"];
  ASSERT_EQ(choices.size(), 3u);
  const int64_t prompt = whole.body["usage"]["prompt_tokens"];
  ASSERT_GT(prompt, 1);
  EXPECT_EQ(whole.body["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
  // The first choice prefilled the prompt; the other two started from its state before the last token.
  EXPECT_EQ(metric(one.port, "baleen_cached_prompt_tokens_total"), 2.0 * static_cast<double>(prompt - 1));
  int64_t completion = 0;
  std::set<std::string> contents;
  for (int64_t i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    const Json& choice = choices[static_cast<size_t>(i)];
    EXPECT_EQ(choice["index"], i);
    Json alone_request = request;
    alone_request.erase("n");
    alone_request["seed"] = 11 + i;
    const Reply alone = post(one.port, alone_request);
    ASSERT_EQ(alone.status, 200) << alone.body.dump();
    const Json& a = alone.body["choices"][0];
    EXPECT_EQ(choice["message"], a["message"]);
    EXPECT_EQ(choice["logprobs"], a["logprobs"]);
    EXPECT_EQ(choice["finish_reason"], a["finish_reason"]);
    EXPECT_EQ(alone.body["usage"]["prompt_tokens"], prompt);
    completion += alone.body["usage"]["completion_tokens"].get<int64_t>();
    contents.insert(a["message"].dump());
  }
  EXPECT_GT(contents.size(), 1u) << "seeds 11, 12 and 13 sampled one answer: the choices are not apart: "
                                  << choices.dump();
  EXPECT_EQ(whole.body["usage"]["completion_tokens"], completion);
  EXPECT_EQ(whole.body["usage"]["total_tokens"], prompt + completion);

  // Streamed, the chunks of each index assemble to its choice; one usage chunk and one [DONE] close it.
  request["stream_options"] = {{"include_usage", true}};
  int done_marks = 0;
  const std::vector<Json> events = streamed(one.port, request, "/v1/chat/completions", done_marks);
  EXPECT_EQ(done_marks, 1);
  ASSERT_FALSE(events.empty());
  std::map<int64_t, std::string> content, reasoning;
  std::map<int64_t, std::string> finish;
  std::map<int64_t, Json> logprobs;
  int usage_chunks = 0;
  for (size_t e = 0; e < events.size(); ++e) {
    const Json& event = events[e];
    if (event["choices"].empty()) {
      ++usage_chunks;
      EXPECT_EQ(e + 1, events.size()) << "the usage chunk comes last";
      for (const char* key : {"prompt_tokens", "completion_tokens", "total_tokens"})
        EXPECT_EQ(event["usage"][key], whole.body["usage"][key]) << key;
      continue;
    }
    const Json& c = event["choices"][0];
    const int64_t index = c["index"];
    const Json& delta = c["delta"];
    EXPECT_FALSE(finish.contains(index)) << "a chunk after its choice's finish: " << event.dump();
    if (delta.contains("content")) content[index] += delta["content"].get<std::string>();
    if (delta.contains("reasoning_content")) reasoning[index] += delta["reasoning_content"].get<std::string>();
    if (!c["finish_reason"].is_null()) finish[index] = c["finish_reason"];
    if (!c["logprobs"].is_null())
      for (const Json& t : c["logprobs"]["content"]) logprobs[index].push_back(t);
  }
  EXPECT_EQ(usage_chunks, 1);
  for (int64_t i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    const Json& choice = choices[static_cast<size_t>(i)];
    EXPECT_EQ(content[i], choice["message"]["content"].is_null() ? "" : choice["message"]["content"]);
    EXPECT_EQ(reasoning[i], choice["message"].value("reasoning_content", ""));
    EXPECT_EQ(finish[i], choice["finish_reason"]);
    EXPECT_EQ(logprobs[i], choice["logprobs"]["content"]);
  }
}

TEST(Choices, CompletionsChoicesWholeAndStreamedAndGreedyOnesAgree) {
  REQUIRE_NANO();
  Json request = {{"prompt", kRawPrompt}, {"max_tokens", 10}, {"temperature", 1.0}, {"seed", 5}, {"n", 2}};
  const Reply whole = post(s->port, request, "/v1/completions");
  ASSERT_EQ(whole.status, 200) << whole.body.dump();
  ASSERT_EQ(whole.body["choices"].size(), 2u);
  for (int64_t i = 0; i < 2; ++i) {
    Json alone_request = request;
    alone_request["n"] = 1;
    alone_request["seed"] = 5 + i;
    const Reply alone = post(s->port, alone_request, "/v1/completions");
    ASSERT_EQ(alone.status, 200) << alone.body.dump();
    EXPECT_EQ(whole.body["choices"][i]["index"], i);
    EXPECT_EQ(whole.body["choices"][i]["text"], alone.body["choices"][0]["text"]) << i;
    EXPECT_EQ(whole.body["choices"][i]["finish_reason"], alone.body["choices"][0]["finish_reason"]) << i;
  }
  int done_marks = 0;
  std::map<int64_t, std::string> text;
  for (const Json& e : streamed(s->port, request, "/v1/completions", done_marks))
    for (const Json& c : e["choices"]) text[c["index"].get<int64_t>()] += c["text"].get<std::string>();
  EXPECT_EQ(done_marks, 1);
  EXPECT_EQ(text[0], whole.body["choices"][0]["text"]);
  EXPECT_EQ(text[1], whole.body["choices"][1]["text"]);

  request["temperature"] = 0;
  const Reply greedy = post(s->port, request, "/v1/completions");
  ASSERT_EQ(greedy.status, 200) << greedy.body.dump();
  EXPECT_EQ(greedy.body["choices"][0]["text"], greedy.body["choices"][1]["text"]);
  EXPECT_EQ(greedy.body["usage"]["completion_tokens"],
            2 * post(s->port, {{"prompt", kRawPrompt}, {"max_tokens", 10}}, "/v1/completions")
                    .body["usage"]["completion_tokens"]
                    .get<int64_t>());
}

}  // namespace
}  // namespace baleen::server
