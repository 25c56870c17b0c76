#include "tokenizer/added_vocabulary.h"

#include <random>

#include <gtest/gtest.h>

#include "test_tokenizers.h"

namespace baleen::tokenizer {
namespace {

using Split = std::vector<std::pair<std::string, uint32_t>>;

Split split_of(const AddedVocabulary& vocab, std::string_view text) {
  std::vector<Segment> segments;
  vocab.split(text, segments);
  Split out;
  for (const Segment& s : segments) out.emplace_back(std::string(s.text), s.id);
  return out;
}

AddedToken token(const char* content, uint32_t id, bool normalized = false) {
  AddedToken t;
  t.content = content;
  t.id = id;
  t.normalized = normalized;
  return t;
}

constexpr uint32_t kText = Segment::kText;

TEST(AddedVocabulary, LeftmostMatchWinsThenLongest) {
  AddedVocabulary vocab;
  vocab.add(token("<a>", 1));
  vocab.add(token("<a>b", 2));
  vocab.add(token("ab", 3));
  vocab.add(token("bcd", 4));
  EXPECT_EQ(split_of(vocab, "x<a>bc"), (Split{{"x", kText}, {"<a>b", 2}, {"c", kText}}));
  EXPECT_EQ(split_of(vocab, "abcd"), (Split{{"ab", 3}, {"cd", kText}}));
  EXPECT_EQ(split_of(vocab, "<a><a>"), (Split{{"<a>", 1}, {"<a>", 1}}));
  EXPECT_EQ(split_of(vocab, "<a"), (Split{{"<a", kText}}));
}

TEST(AddedVocabulary, RawTokensAreMatchedBeforeNormalizedOnes) {
  // HF matches normalized=false tokens over the whole text first, then normalized=true ones in the gaps.
  AddedVocabulary vocab;
  vocab.add(token("abc", 1, /*normalized=*/true));
  vocab.add(token("bc", 2, /*normalized=*/false));
  EXPECT_EQ(split_of(vocab, "abc"), (Split{{"a", kText}, {"bc", 2}}));
  EXPECT_EQ(split_of(vocab, "abc abc"), (Split{{"a", kText}, {"bc", 2}, {" a", kText}, {"bc", 2}}));
}

TEST(AddedVocabulary, LstripAndRstripAbsorbUnicodeWhitespace) {
  AddedVocabulary vocab;
  AddedToken t = token("<m>", 7);
  t.lstrip = t.rstrip = true;
  vocab.add(t);
  EXPECT_EQ(split_of(vocab, "a \u3000<m>\t b"), (Split{{"a", kText}, {" \u3000<m>\t ", 7}, {"b", kText}}));
  EXPECT_EQ(split_of(vocab, "<m> <m>"), (Split{{"<m> ", 7}, {"<m>", 7}}));  // spaces are taken once
}

TEST(AddedVocabulary, SegmentsTileTheInputOnRandomText) {
  AddedVocabulary vocab;
  vocab.add(token("<｜User｜>", 1));
  vocab.add(token("<think>", 2, true));
  vocab.add(token("<｜", 3));
  std::mt19937 rng(5);
  for (int trial = 0; trial < 2000; ++trial) {
    const std::string text = testing::random_text(rng, 60);
    std::vector<Segment> segments;
    vocab.split(text, segments);
    std::string joined;
    for (const Segment& s : segments) {
      ASSERT_FALSE(s.text.empty());
      if (s.id != kText) {
        ASSERT_EQ(s.text, vocab.tokens()[s.id - 1].content);
      }
      joined += s.text;
    }
    ASSERT_EQ(joined, text);
  }
}

}  // namespace
}  // namespace baleen::tokenizer
