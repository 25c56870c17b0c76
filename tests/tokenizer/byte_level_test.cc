#include "tokenizer/byte_level.h"

#include <gtest/gtest.h>

#include "tokenizer/utf8.h"

namespace baleen::tokenizer {
namespace {

TEST(ByteLevel, EveryByteRoundTrips) {
  for (int b = 0; b < 256; ++b) {
    const std::string byte(1, static_cast<char>(b));
    const auto back = byte_level_to_bytes(bytes_to_byte_level(byte));
    ASSERT_TRUE(back.has_value()) << b;
    EXPECT_EQ(*back, byte) << b;
  }
}

TEST(ByteLevel, AlphabetIsGpt2s) {
  // Printable bytes stand for themselves; the 68 others take U+0100.. in byte order.
  EXPECT_EQ(byte_level_char('A'), U'A');
  EXPECT_EQ(byte_level_char(0x00), 0x100u);
  EXPECT_EQ(byte_level_char(0x0A), 0x10Au);  // 'Ċ'
  EXPECT_EQ(byte_level_char(0x20), 0x120u);  // 'Ġ'
  EXPECT_EQ(byte_level_char(0x7F), 0x121u);
  EXPECT_EQ(byte_level_char(0xA0), 0x142u);
  EXPECT_EQ(byte_level_char(0xAD), 0x143u);
  EXPECT_EQ(byte_level_char(0xFF), 0xFFu);
}

TEST(ByteLevel, RefusesCodePointsOutsideTheAlphabet) {
  EXPECT_FALSE(byte_level_to_bytes("<｜User｜>").has_value());
  EXPECT_FALSE(byte_level_to_bytes("\xC3").has_value());
  EXPECT_EQ(byte_level_to_bytes("ĠhelloĊ"), std::optional<std::string>(" hello\n"));
}

}  // namespace
}  // namespace baleen::tokenizer
