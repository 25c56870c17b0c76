#include "tokenizer/pre_tokenizer.h"

#include <random>

#include <gtest/gtest.h>

#include "test_tokenizers.h"

namespace baleen::tokenizer {
namespace {

// DeepSeek-V3's three Split regexes as written in its tokenizer.json.
PreTokenizer deepseek_pre_tokenizer() {
  return PreTokenizer::from_patterns(
      {"\\p{N}{1,3}", "[一-龥\u3040-ゟ゠-ヿ]+",
       "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "
       "?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"});
}

std::vector<std::string> pieces_of(const PreTokenizer& pre, std::string_view text) {
  std::vector<std::string_view> views;
  pre.split(text, views);
  return {views.begin(), views.end()};
}

using Pieces = std::vector<std::string>;

TEST(PreTokenizer, SplitsLikeHuggingFace) {
  // Expected pieces read off HF tokenizers' output for the same strings.
  const PreTokenizer pre = deepseek_pre_tokenizer();
  EXPECT_EQ(pieces_of(pre, "12345678"), (Pieces{"123", "456", "78"}));
  EXPECT_EQ(pieces_of(pre, "ab  12"), (Pieces{"ab", "  ", "12"}));  // (?!\S) sees the piece's end
  EXPECT_EQ(pieces_of(pre, "a  b"), (Pieces{"a", " ", " b"}));
  EXPECT_EQ(pieces_of(pre, "def f(x):\r\n\treturn"), (Pieces{"def", " f", "(x", "):\r\n", "\treturn"}));
  EXPECT_EQ(pieces_of(pre, "こんにちは世界abc"), (Pieces{"こんにちは世界", "abc"}));
  EXPECT_EQ(pieces_of(pre, "a \u180e b"), (Pieces{"a", " ", "\u180e", " b"}));  // U+180E is not \s
  EXPECT_EQ(pieces_of(pre, "x\u00a0\u00a0y"), (Pieces{"x", "\u00a0", "\u00a0y"}));
}

TEST(PreTokenizer, PiecesTileTheInputOnRandomText) {
  const PreTokenizer pre = deepseek_pre_tokenizer();
  std::mt19937 rng(11);
  for (int trial = 0; trial < 2000; ++trial) {
    const std::string text = testing::random_text(rng, 80);
    std::vector<std::string_view> pieces;
    pre.split(text, pieces);
    std::string joined;
    for (const std::string_view piece : pieces) {
      ASSERT_FALSE(piece.empty());
      ASSERT_EQ(piece.data(), text.data() + joined.size()) << "pieces must be contiguous views of the input";
      joined += piece;
    }
    ASSERT_EQ(joined, text);
  }
}

TEST(PreTokenizer, EmptyTextHasNoPieces) { EXPECT_TRUE(pieces_of(deepseek_pre_tokenizer(), "").empty()); }

}  // namespace
}  // namespace baleen::tokenizer
