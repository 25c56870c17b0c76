// The token-level mask of a forced tool call over DeepSeek-V4's real vocabulary: the tokens of a rendered
// call are never masked (however the tokenizer split its tags), the end of sentence only after the block,
// and whatever is sampled under the mask from random logits stays a valid prefix. Prints the mask's cost
// per step (the overhead a forced call adds to each sampled token).
#include "session/tool_call_constraint.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <random>

#include "chat/encoder.h"
#include "chat/output_parser.h"
#include "engine/sampler.h"
#include "tokenizer/deepseek_v4_tokens.h"

namespace baleen::session {
namespace {

const chat::Json kFunctions = chat::Json::parse(R"([
  {"name": "run_command", "parameters": {"type": "object",
     "properties": {"command": {"type": "string"}, "timeout": {"type": "number"}}, "required": ["command"]}},
  {"name": "write_file", "parameters": {"type": "object",
     "properties": {"path": {"type": "string"}, "content": {"type": "string"}, "meta": {"type": "object"}},
     "required": ["path", "content"]}}
])");

const tokenizer::Tokenizer* v4_tokenizer() {
  static const auto tok = [] {
    const auto path = tokenizer::default_tokenizer_path();
    return std::filesystem::exists(path)
               ? std::make_unique<tokenizer::Tokenizer>(tokenizer::load_deepseek_v4(path))
               : nullptr;
  }();
  return tok.get();
}

#define REQUIRE_TOKENIZER()                                           \
  const tokenizer::Tokenizer* tok = v4_tokenizer();                   \
  if (tok == nullptr) GTEST_SKIP() << "no tokenizer (scripts/setup.sh)"; \
  const uint32_t eos = tok->token_id("<｜end▁of▁sentence｜>")

ToolCallConstraint constraint(const tokenizer::Tokenizer& tok, uint32_t eos, bool thinking = false) {
  return ToolCallConstraint(tok, chat::ToolCallGrammar(chat::dsml_tags_v4(), kFunctions, true, thinking), eos);
}

std::vector<float> random_logits(size_t n, std::mt19937& rng) {
  std::normal_distribution<float> d(0, 3);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

TEST(ToolCallConstraint, TheTokensOfARenderedCallAreNeverMasked) {
  REQUIRE_TOKENIZER();
  chat::ToolCall write;
  write.name = "write_file";
  write.arguments = {{"path", "src/a b.py"},
                     {"content", "def f(x):\n    return x < 3 and \"</｜DSML｜param\"\n"},
                     {"meta", {{"mode", 420}, {"tags", {"a", "é"}}}}};
  chat::ToolCall run;
  run.name = "run_command";
  run.arguments = {{"command", "ls -la /tmp"}, {"timeout", 2.5}};
  for (bool thinking : {false, true}) {
    const std::string text = (thinking ? "I will write it.</think>" : "") +
                             chat::render_tool_calls({write, run}, chat::Dialect::kV4);
    std::vector<uint32_t> ids = tok->encode(text);
    ids.push_back(eos);
    const auto built = std::chrono::steady_clock::now();
    ToolCallConstraint c = constraint(*tok, eos, thinking);
    std::printf("[ mask cost ] set-up: %.1f ms\n",
                1e3 * std::chrono::duration<double>(std::chrono::steady_clock::now() - built).count());
    std::mt19937 rng(7);
    std::vector<int32_t> sampled;
    double seconds = 0;
    for (uint32_t id : ids) {
      std::vector<float> logits = random_logits(tok->size(), rng);
      const auto t0 = std::chrono::steady_clock::now();
      c.apply(logits, sampled);
      seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      ASSERT_TRUE(std::isfinite(logits[id])) << "token " << id << " \"" << tok->token_bytes(id)
                                             << "\" masked after " << tok->decode(
                                                    std::vector<uint32_t>(sampled.begin(), sampled.end()));
      const size_t allowed = std::count_if(logits.begin(), logits.end(), [](float x) { return std::isfinite(x); });
      if (id == eos) {
        EXPECT_EQ(allowed, 1u) << "after the block only the end of sentence";
      }
      sampled.push_back(static_cast<int32_t>(id));
    }
    std::printf("[ mask cost ] thinking=%d: %zu steps, %.1f us per step\n", thinking, ids.size(),
                1e6 * seconds / static_cast<double>(ids.size()));
  }
}

// Sampling at temperature 1 from random logits under the mask: every step keeps at least one token, and
// the output stays a prefix the grammar accepts (apply() checks each sampled token against it).
TEST(ToolCallConstraint, RandomLogitsStayInsideTheGrammar) {
  REQUIRE_TOKENIZER();
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    ToolCallConstraint c = constraint(*tok, eos);
    Sampler sampler({.temperature = 1.0f, .seed = seed});
    std::mt19937 rng(static_cast<uint32_t>(seed));
    std::vector<int32_t> sampled;
    double seconds = 0;
    const int steps = 200;
    for (int i = 0; i < steps && (sampled.empty() || sampled.back() != static_cast<int32_t>(eos)); ++i) {
      std::vector<float> logits = random_logits(tok->size(), rng);
      const auto t0 = std::chrono::steady_clock::now();
      c.apply(logits, sampled);
      seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      ASSERT_TRUE(std::any_of(logits.begin(), logits.end(), [](float x) { return std::isfinite(x); }));
      sampled.push_back(sampler.sample(logits));
    }
    std::vector<float> logits = random_logits(tok->size(), rng);
    EXPECT_NO_THROW(c.apply(logits, sampled));
    std::printf("[ mask cost ] random seed %llu: %.1f us per step\n", static_cast<unsigned long long>(seed),
                1e6 * seconds / static_cast<double>(sampled.size()));
  }
}

}  // namespace
}  // namespace baleen::session
