#include "tokenizer/utf8.h"

#include <random>

#include <gtest/gtest.h>

namespace baleen::tokenizer {
namespace {

// Truth from the definition: a string is valid iff it splits into shortest-form encodings of scalar
// values (no surrogates, nothing above U+10FFFF). Tries every split, so it shares no code with utf8.cc.
bool valid_by_definition(std::string_view s) {
  if (s.empty()) return true;
  for (size_t len = 1; len <= 4 && len <= s.size(); ++len) {
    const auto b0 = static_cast<uint8_t>(s[0]);
    const uint8_t lead_mask[5] = {0, 0x80, 0xE0, 0xF0, 0xF8}, lead_bits[5] = {0, 0x00, 0xC0, 0xE0, 0xF0};
    if ((b0 & lead_mask[len]) != lead_bits[len]) continue;
    uint32_t cp = b0 & static_cast<uint8_t>(~lead_mask[len]);
    bool ok = true;
    for (size_t k = 1; k < len; ++k) {
      const auto b = static_cast<uint8_t>(s[k]);
      ok = ok && (b & 0xC0) == 0x80;
      cp = (cp << 6) | (b & 0x3F);
    }
    const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    ok = ok && cp >= min_cp[len] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp < 0xE000);
    if (ok && valid_by_definition(s.substr(len))) return true;
  }
  return false;
}

TEST(Utf8, ValidityMatchesDefinitionOnRandomBytes) {
  std::mt19937 rng(7);
  const uint8_t interesting[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2,
                                 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF};
  for (int trial = 0; trial < 50000; ++trial) {
    std::string s(rng() % 9, '\0');
    for (char& c : s) c = static_cast<char>(rng() % 3 ? interesting[rng() % sizeof(interesting)] : rng() % 256);
    EXPECT_EQ(is_valid_utf8(s), valid_by_definition(s)) << "bytes of length " << s.size() << " trial " << trial;
  }
}

TEST(Utf8, LossyReplacesEachMaximalSubpartWithOneReplacementChar) {
  const std::string r(kReplacementChar);
  EXPECT_EQ(utf8_lossy("a\xF0\x9F\x98"), "a" + r);               // truncated 4-byte sequence: one
  EXPECT_EQ(utf8_lossy("\xE0\x80\x80"), r + r + r);              // overlong: E0 80 is not a prefix
  EXPECT_EQ(utf8_lossy("\xED\xA0\x80"), r + r + r);              // surrogate
  EXPECT_EQ(utf8_lossy("\xF4\x90\x80\x80"), r + r + r + r);      // above U+10FFFF
  EXPECT_EQ(utf8_lossy("\xC3(x"), r + "(x");
  EXPECT_EQ(utf8_lossy("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");  // valid stays
}

TEST(Utf8, AppendUtf8RoundTripsEveryScalarValue) {
  for (char32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (cp >= 0xD800 && cp < 0xE000) continue;
    std::string s;
    append_utf8(s, cp);
    const Utf8Step step = utf8_step(s, 0);
    ASSERT_EQ(step.kind, Utf8Step::Kind::kValid) << std::hex << static_cast<uint32_t>(cp);
    ASSERT_EQ(step.length, s.size()) << std::hex << static_cast<uint32_t>(cp);
    ASSERT_EQ(static_cast<uint32_t>(step.code_point), static_cast<uint32_t>(cp));
  }
}

}  // namespace
}  // namespace baleen::tokenizer
