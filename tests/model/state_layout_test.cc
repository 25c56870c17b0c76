#include "model/state_layout.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "tiny_checkpoint.h"

namespace baleen {
namespace {

Config config(const std::string& name) {
  return load_config(std::string(BALEEN_SOURCE_DIR) + "/tests/data/configs/" + name);
}

// Marginal state bytes per token in paper storage, by hand from spec/model.md: each CSA layer stores one
// entry per 4 tokens — (d − r) FP8 bytes + r BF16 values — plus one FP4 indexer key of di / 2 bytes; each
// HCA layer one entry per 128 tokens. Scales and tails are ignored here (they are < 2% of an entry).
double hand_marginal_paper(const Config& c) {
  const double entry =
      static_cast<double>(c.head_dim - c.rope_head_dim) + 2.0 * static_cast<double>(c.rope_head_dim);
  double bytes = 0;
  for (const auto& layer : c.layers) {
    if (layer.compress_ratio == 4)
      bytes += (entry + c.index_head_dim / 2.0) / 4.0;
    else if (layer.compress_ratio > 0)
      bytes += entry / static_cast<double>(layer.compress_ratio);
  }
  return bytes;
}

void check_marginal(const std::string& name) {
  const Config c = config(name);
  const int64_t a = 131072, b = 1048576;
  const int64_t at_a = session_bytes(c, a, StateStorage::kPaper);
  const int64_t at_b = session_bytes(c, b, StateStorage::kPaper);
  const double marginal = static_cast<double>(at_b - at_a) / static_cast<double>(b - a);
  const double hand = hand_marginal_paper(c);
  EXPECT_NEAR(marginal, hand, 0.10 * hand) << name;
  // An 8-KV-head bf16 GQA cache with head dim 128 of the same depth: K and V, 2 bytes each.
  const double gqa = 2.0 * 8 * 128 * 2 * static_cast<double>(c.num_layers);
  EXPECT_LE(marginal, 0.03 * gqa) << name << ": " << marginal << " bytes/token vs GQA " << gqa;
  std::printf(
      "%s: paper state %.1f bytes/token (hand %.1f), %.2f%% of GQA-8 bf16; 1M tokens: %.3f GiB paper, "
      "%.3f GiB fp32\n",
      name.c_str(), marginal, hand, 100.0 * marginal / gqa, static_cast<double>(at_b) / (1 << 30),
      static_cast<double>(session_bytes(c, b, StateStorage::kFp32)) / (1 << 30));
}

TEST(StateLayout, FlashMarginalBytesPerTokenMatchSpecAndAreUnderThreePercentOfGqa) {
  check_marginal("deepseek-v4-flash.json");
}

TEST(StateLayout, ProMarginalBytesPerTokenMatchSpecAndAreUnderThreePercentOfGqa) {
  check_marginal("deepseek-v4-pro.json");
}

TEST(StateLayout, PaperEntryLayoutForRealSizes) {
  const Config c = config("deepseek-v4-flash.json");
  EXPECT_EQ(kv_entry_bytes(c, StateStorage::kPaper), 448 + 128 + 7 + 1);  // FlashMLA's 584-byte row
  EXPECT_EQ(indexer_entry_bytes(c, StateStorage::kPaper), 64 + 4);
  EXPECT_EQ(kv_entry_bytes(c, StateStorage::kFp32), 2048);
}

// Replays a session token by token (what the engine keeps after each token) and compares the total
// with the closed form, for every T up to a few windows in the tiny config (window 8, ratios 4 and 8).
TEST(StateLayout, ClosedFormMatchesTokenByTokenReplay) {
  const Config c = parse_config(testing::tiny_config(false), "tiny");
  for (StateStorage storage : {StateStorage::kFp32, StateStorage::kPaper}) {
    const int64_t e = kv_entry_bytes(c, storage), ei = indexer_entry_bytes(c, storage);
    for (int64_t T = 0; T <= 40; ++T) {
      int64_t want = 0;
      for (const auto& layer : c.layers) {
        int64_t window = 0, entries = 0, open = 0;
        bool overlap = false;
        for (int64_t t = 1; t <= T; ++t) {
          window = std::min(window + 1, c.sliding_window);
          if (layer.compress_ratio == 0) continue;
          if (++open == layer.compress_ratio) {
            open = 0;
            ++entries;
            overlap = true;
          }
        }
        want += window * e + entries * e;
        if (layer.compress_ratio == 4) {
          want += entries * ei + open * 4 * (4 * c.head_dim + 4 * c.index_head_dim) +
                  (overlap ? 4 * 4 * 2 * (c.head_dim + c.index_head_dim) : 0);
        } else if (layer.compress_ratio > 0) {
          want += open * 4 * 2 * c.head_dim;
        }
      }
      ASSERT_EQ(session_bytes(c, T, storage), want) << "T=" << T;
    }
  }
}

}  // namespace
}  // namespace baleen
