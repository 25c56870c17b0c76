#include "tokenizer/stream_detokenizer.h"

#include <random>

#include <gtest/gtest.h>

#include "test_tokenizers.h"
#include "tokenizer/utf8.h"

namespace baleen::tokenizer {
namespace {

Tokenizer tiny() { return Tokenizer::load(testing::write_temp_file("tiny.json", testing::tiny_tokenizer_json())); }

TEST(StreamDetokenizer, HoldsBackAnIncompleteCharacterUntilItCompletes) {
  const Tokenizer tok = tiny();
  StreamDetokenizer stream(tok);
  EXPECT_EQ(stream.push('a'), "a");
  EXPECT_EQ(stream.push(0xF0), "");  // 😀 = F0 9F 98 80, one byte token at a time
  EXPECT_EQ(stream.push(0x9F), "");
  EXPECT_EQ(stream.push(0x98), "");
  EXPECT_EQ(stream.pending(), 3u);
  EXPECT_EQ(stream.push(0x80), "\xF0\x9F\x98\x80");
  EXPECT_EQ(stream.pending(), 0u);
  EXPECT_EQ(stream.flush(), "");
}

TEST(StreamDetokenizer, MarksBytesThatCannotCompleteAndFlushesTheRest) {
  const Tokenizer tok = tiny();
  StreamDetokenizer stream(tok);
  EXPECT_EQ(stream.push(0xE2), "");
  EXPECT_EQ(stream.push('x'), "\xEF\xBF\xBDx");  // E2 then 'x': E2 can never complete
  EXPECT_EQ(stream.push(0xC3), "");
  EXPECT_EQ(stream.flush(), "\xEF\xBF\xBD");
  EXPECT_EQ(stream.pending(), 0u);
}

TEST(StreamDetokenizer, SkipsSpecialTokensWhenAsked) {
  const Tokenizer tok = tiny();
  StreamDetokenizer stream(tok, {.skip_special = true});
  EXPECT_EQ(stream.push(300), "");
  EXPECT_EQ(stream.push(301), "<｜U｜>");
}

// The property: on any id sequence, every chunk is valid UTF-8 and the chunks join to decode(ids).
void check_stream_matches_decode(const Tokenizer& tok, std::mt19937& rng, int trials, uint32_t id_limit) {
  for (int trial = 0; trial < trials; ++trial) {
    std::vector<uint32_t> ids;
    const size_t n = rng() % 40;
    while (ids.size() < n) {
      // Favour byte tokens 0x80-0xFF (halves of characters) so splits are common.
      const uint32_t id = rng() % 2 ? 128 + rng() % 128 : rng() % id_limit;
      if (tok.is_defined(id)) ids.push_back(id);
    }
    StreamDetokenizer stream(tok);
    std::string joined;
    for (const uint32_t id : ids) {
      const std::string chunk = stream.push(id);
      ASSERT_TRUE(is_valid_utf8(chunk)) << "trial " << trial;
      joined += chunk;
    }
    joined += stream.flush();
    ASSERT_EQ(joined, tok.decode(ids)) << "trial " << trial;
  }
}

TEST(StreamDetokenizer, ChunksAreValidAndJoinToBatchDecodeOnRandomIds) {
  std::mt19937 rng(23);
  const Tokenizer tok = tiny();
  check_stream_matches_decode(tok, rng, 5000, tok.size());
  if (const Tokenizer* real = testing::installed_v4_tokenizer()) check_stream_matches_decode(*real, rng, 5000, real->size());
}

}  // namespace
}  // namespace baleen::tokenizer
