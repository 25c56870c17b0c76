#include "tokenizer/deepseek_v4_tokens.h"

#include <gtest/gtest.h>

#include "test_tokenizers.h"

namespace baleen::tokenizer {
namespace {

TEST(DeepseekV4Tokens, TableEqualsTheOneTheParityIdsWereMadeWith) {
  const auto fixture = read_added_tokens(std::string(BALEEN_SOURCE_DIR) + "/tests/fixtures/tokenizer/v4_added_tokens.json");
  const auto table = deepseek_v4_added_tokens();
  ASSERT_EQ(table.size(), fixture.size());
  for (size_t i = 0; i < table.size(); ++i) {
    EXPECT_EQ(table[i].content, fixture[i].content);
    EXPECT_EQ(table[i].id, fixture[i].id) << table[i].content;
    EXPECT_EQ(table[i].special, fixture[i].special) << table[i].content;
    EXPECT_EQ(table[i].normalized, fixture[i].normalized) << table[i].content;
    EXPECT_EQ(table[i].lstrip, fixture[i].lstrip) << table[i].content;
    EXPECT_EQ(table[i].rstrip, fixture[i].rstrip) << table[i].content;
  }
}

TEST(DeepseekV4Tokens, ChatMarkersHaveV4Ids) {
  const Tokenizer* tok = testing::installed_v4_tokenizer();
  if (tok == nullptr) GTEST_SKIP() << "tokenizer not installed at " << default_tokenizer_path() << " (scripts/setup.sh)";
  EXPECT_EQ(tok->token_id("<｜begin▁of▁sentence｜>"), 0u);
  EXPECT_EQ(tok->token_id("<｜end▁of▁sentence｜>"), 1u);
  EXPECT_EQ(tok->token_id("<｜User｜>"), 128803u);
  EXPECT_EQ(tok->token_id("<｜Assistant｜>"), 128804u);
  EXPECT_EQ(tok->token_id("<think>"), 128821u);
  EXPECT_EQ(tok->token_id("</think>"), 128822u);
  EXPECT_EQ(tok->token_id("｜DSML｜"), 128825u);
  EXPECT_EQ(tok->token_id("<｜latest_reminder｜>"), 128828u);
  EXPECT_EQ(tok->token_id("<｜read_url｜>"), 128845u);
  // The DSML marker is one token inside a tag, the tag's brackets and name stay text.
  const std::vector<uint32_t> ids = tok->encode("<｜DSML｜invoke name=\"f\">");
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids[1], 128825u);
  EXPECT_EQ(tok->decode(ids), "<｜DSML｜invoke name=\"f\">");
}

}  // namespace
}  // namespace baleen::tokenizer
