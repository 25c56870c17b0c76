// The prefix cache's granularity through the server (issue 19's acceptance): a request sharing its first N
// tokens with a cached one reuses ⌊N/G⌋·G of them (G: session::cache_granularity, 128 on nano), for random
// N, after unrelated sessions filled the cache and had their states evicted; and what it generates from
// the reused state is what a cold server generates.
#include "session/prefix_cache.h"

#include <gtest/gtest.h>

#include <random>

#include "nano_server.h"

namespace baleen::server {
namespace {

using chat::Json;

// Token ids of random words (text nano has seen pieces of, so its greedy continuation stays in the ids
// the tokenizer defines).
std::vector<int32_t> random_words(const tokenizer::Tokenizer& tok, size_t tokens, std::mt19937& rng) {
  static const std::vector<std::string> kWords = {"file", "lines", "count",  "the",   "notes",
                                                  "read", "tool",  "answer", "small", "model",
                                                  "text", "list",  "run",    "word"};
  std::string text;
  std::vector<int32_t> ids;
  while (ids.size() < tokens) {
    text += kWords[rng() % kWords.size()] + " ";
    const std::vector<uint32_t> encoded = tok.encode(text);
    ids.assign(encoded.begin(), encoded.end());
  }
  ids.resize(tokens);
  return ids;
}

struct Completion {
  int status = 0;
  int64_t cached = -1;
  std::string text;
};

Completion complete(int port, const std::vector<int32_t>& prompt) {
  const Reply r = post(port, {{"prompt", prompt}, {"max_tokens", 6}}, "/v1/completions");
  if (r.status != 200) return {r.status, -1, r.body.dump()};
  return {r.status, r.body["usage"]["prompt_tokens_details"]["cached_tokens"].get<int64_t>(),
          r.body["choices"][0]["text"].get<std::string>()};
}

double metric(int port, const std::string& name) {
  const std::string body = client(port).Get("/metrics")->body;
  const size_t at = body.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::stod(body.substr(at + name.size() + 2));
}

TEST(PrefixCache, ASharedPrefixOfNTokensReusesItsLastBoundaryAfterOthersWereEvicted) {
  REQUIRE_NANO();
  const tokenizer::Tokenizer& tok = s->model->tokenizer();
  const int64_t g = session::cache_granularity(s->model->model().config());
  ServerOptions options = serve_options({});
  options.scheduling.cache.max_entries = 64;
  ScopedServer warm(*s->model, options);
  std::mt19937 rng(std::random_device{}());
  // Unrelated sessions: ~100 states, so the oldest of them are evicted.
  for (int i = 0; i < 20; ++i) ASSERT_EQ(complete(warm.port, random_words(tok, 3 * g + 40, rng)).status, 200);
  EXPECT_GT(metric(warm.port, "baleen_prefix_cache_evictions_total"), 0);
  const std::vector<int32_t> cached = random_words(tok, 5 * g + 20, rng);
  ASSERT_EQ(complete(warm.port, cached).cached, 0);

  std::vector<int64_t> shared = {g - 1, g, 2 * g + 1};
  std::uniform_int_distribution<int64_t> any(1, static_cast<int64_t>(cached.size()) - 1);
  for (int i = 0; i < 5; ++i) shared.push_back(any(rng));
  for (const int64_t n : shared) {
    SCOPED_TRACE(fmt::format("sharing the first {} of {} tokens (granularity {})", n, cached.size(), g));
    std::vector<int32_t> prompt(cached.begin(), cached.begin() + n);
    std::vector<int32_t> tail = random_words(tok, 2 * g, rng);
    if (tail.front() == cached[static_cast<size_t>(n)]) tail.front() = tail.front() == 1 ? 2 : 1;
    prompt.insert(prompt.end(), tail.begin(), tail.end());
    const Completion got = complete(warm.port, prompt);
    ASSERT_EQ(got.status, 200) << got.text;
    EXPECT_EQ(got.cached, n / g * g);
    ScopedServer cold_server(*s->model, serve_options({}));
    const Completion cold = complete(cold_server.port, prompt);
    EXPECT_EQ(cold.cached, 0);
    EXPECT_EQ(got.text, cold.text) << "the reused state continues otherwise than a cold prefill";
  }
}

}  // namespace
}  // namespace baleen::server
