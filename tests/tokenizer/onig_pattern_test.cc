#include "tokenizer/onig_pattern.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <gtest/gtest.h>

#include "core/error.h"
#include "tokenizer/utf8.h"

namespace baleen::tokenizer {
namespace {

// True when the translated pattern matches the whole of one code point.
bool matches(const std::string& onig_pattern, char32_t cp) {
  const std::string pattern = "^(?:" + onig_pattern_to_pcre2(onig_pattern) + ")$";
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
  EXPECT_NE(code, nullptr) << pattern;
  pcre2_match_data* data = pcre2_match_data_create_from_pattern(code, nullptr);
  std::string subject;
  append_utf8(subject, cp);
  const int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0, 0, data, nullptr);
  pcre2_match_data_free(data);
  pcre2_code_free(code);
  return rc > 0;
}

TEST(OnigPattern, WhitespaceIsExactlyUnicodeWhiteSpace) {
  // Unicode PropList.txt, White_Space (what Oniguruma's \s is).
  const auto white_space = [](char32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
  };
  for (char32_t c = 0; c < 0x3100; ++c) {
    if (c >= 0xD800 && c < 0xE000) continue;
    ASSERT_EQ(matches("\\s", c), white_space(c)) << std::hex << "U+" << static_cast<uint32_t>(c);
    ASSERT_EQ(matches("\\S", c), !white_space(c)) << std::hex << "U+" << static_cast<uint32_t>(c);
    ASSERT_EQ(matches("[x\\s]", c), white_space(c) || c == 'x') << std::hex << "U+" << static_cast<uint32_t>(c);
  }
}

TEST(OnigPattern, CategoriesIncludeCodePointsNewerThanPcre2Tables) {
  EXPECT_TRUE(matches("\\p{L}", 0x31350));   // CJK Extension H (Unicode 15.0)
  EXPECT_TRUE(matches("\\p{S}", 0x1CC00));   // Legacy Computing Supplement (Unicode 16.0)
  EXPECT_TRUE(matches("\\p{N}", 0x1E4F0));   // Nag Mundari digit zero (Unicode 15.0)
  EXPECT_TRUE(matches("[\\p{P}\\p{S}]", 0x1B4E));
  EXPECT_FALSE(matches("[^\\r\\n\\p{L}\\p{P}\\p{S}]", 0x31350));
  EXPECT_TRUE(matches("[^\\r\\n\\p{L}\\p{P}\\p{S}]", 0x0301));  // a mark is not excluded
  EXPECT_FALSE(matches("\\p{L}", 0x2F800 - 1));                // U+2F7FF is unassigned
  EXPECT_TRUE(matches("\\p{Han}", 0x4E00));                    // other properties pass through
}

TEST(OnigPattern, RefusesConstructsWhoseMeaningDiffers) {
  EXPECT_THROW(onig_pattern_to_pcre2("\\d+"), Error);
  EXPECT_THROW(onig_pattern_to_pcre2("\\w"), Error);
  EXPECT_THROW(onig_pattern_to_pcre2("[a[b]]"), Error);
  EXPECT_THROW(onig_pattern_to_pcre2("[^\\S]"), Error);
  EXPECT_EQ(onig_pattern_to_pcre2("[\\[\\]]\\r\\n"), "[\\[\\]]\\r\\n");
  EXPECT_EQ(onig_pattern_to_pcre2("[]a]"), "[]a]");
}

}  // namespace
}  // namespace baleen::tokenizer
