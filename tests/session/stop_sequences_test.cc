#include "session/stop_sequences.h"

#include <gtest/gtest.h>

#include <random>

namespace baleen::session {
namespace {

// Feeds `text` in random chunks; returns the released text and the match.
std::pair<std::string, std::optional<std::string>> run(const std::vector<std::string>& stops,
                                                       const std::string& text, std::mt19937& rng) {
  StopSequences s(stops);
  std::string out;
  for (size_t at = 0; at < text.size();) {
    const size_t n = std::min(text.size() - at, 1 + rng() % 4);
    out += s.feed(std::string_view(text).substr(at, n));
    at += n;
  }
  if (!s.matched()) out += s.flush();
  return {out, s.matched()};
}

TEST(StopSequences, EndsBeforeTheFirstMatchForEveryChunking) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 200; ++trial) {
    const auto [out, matched] = run({"END", "\n\n", "ENDING"}, "one two EN three\nfour ENDING five END", rng);
    EXPECT_EQ(out, "one two EN three\nfour ") << "trial " << trial;
    ASSERT_TRUE(matched);
    EXPECT_EQ(*matched, "END") << "the sequence that completes first wins";
  }
}

TEST(StopSequences, ReleasesHeldTextThatNeverCompletesAMatch) {
  std::mt19937 rng(4);
  for (int trial = 0; trial < 100; ++trial) {
    const auto [out, matched] = run({"STOP", ""}, "a ST b STO c S", rng);
    EXPECT_EQ(out, "a ST b STO c S");
    EXPECT_FALSE(matched);
  }
  StopSequences none({});
  EXPECT_EQ(none.feed("anything"), "anything");
}

TEST(StopSequences, HeldTextNeverEndsInsideACharacter) {
  StopSequences s({"é!"});  // a two-byte character starts the sequence
  EXPECT_EQ(s.feed("caf"), "caf");
  EXPECT_EQ(s.feed("é"), "") << "é could start the sequence";
  EXPECT_EQ(s.feed("s"), "és");
}

}  // namespace
}  // namespace baleen::session
