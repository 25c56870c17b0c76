// Parity with Hugging Face `tokenizers` on the committed corpus (reference/make_tokenizer_fixtures.py:
// DeepSeek-V3's tokenizer.json + V4's added tokens, ids without BOS).
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_tokenizers.h"

namespace baleen::tokenizer {
namespace {

std::vector<nlohmann::json> read_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open fixture " << path;
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
  }
  return lines;
}

TEST(TokenizerParity, IdsEqualHuggingFaceOnTheWholeCorpusAndDecodeRoundTrips) {
  const Tokenizer* tok = testing::installed_v4_tokenizer();
  if (tok == nullptr) GTEST_SKIP() << "tokenizer not installed at " << default_tokenizer_path() << " (scripts/setup.sh)";
  const std::string dir = std::string(BALEEN_SOURCE_DIR) + "/tests/fixtures/tokenizer/";
  const auto corpus = read_lines(dir + "corpus.jsonl");
  const auto ids = read_lines(dir + "ids.jsonl");
  ASSERT_GE(corpus.size(), 3000u);
  ASSERT_EQ(corpus.size(), ids.size());
  size_t id_mismatches = 0, round_trip_failures = 0;
  for (size_t i = 0; i < corpus.size(); ++i) {
    const std::string text = corpus[i]["text"].get<std::string>();
    const std::vector<uint32_t> want = ids[i]["ids"].get<std::vector<uint32_t>>();
    const std::vector<uint32_t> got = tok->encode(text);
    if (got != want && ++id_mismatches <= 5) {
      ADD_FAILURE() << "corpus line " << i + 1 << ": " << got.size() << " ids, HF has " << want.size();
    }
    if (tok->decode(got) != text && ++round_trip_failures <= 5) {
      ADD_FAILURE() << "corpus line " << i + 1 << ": decode(encode(text)) != text";
    }
  }
  EXPECT_EQ(id_mismatches, 0u) << "of " << corpus.size() << " lines";
  EXPECT_EQ(round_trip_failures, 0u) << "of " << corpus.size() << " lines";
}

}  // namespace
}  // namespace baleen::tokenizer
