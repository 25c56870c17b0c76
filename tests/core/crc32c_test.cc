#include "core/crc32c.h"

#include <random>
#include <string>

#include <gtest/gtest.h>

namespace baleen {
namespace {

TEST(Crc32c, MatchesTheStandardCheckValue) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c_reference("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c(""), 0u);
}

TEST(Crc32c, HardwareMatchesBitwiseReferenceOnRandomInputsAndChains) {
  std::mt19937_64 rng(5);
  for (int trial = 0; trial < 200; ++trial) {
    std::string data(rng() % 3000, '\0');
    for (char& c : data) c = static_cast<char>(rng());
    uint32_t whole = crc32c(data);
    ASSERT_EQ(whole, crc32c_reference(data)) << "size " << data.size();
    size_t cut = data.empty() ? 0 : rng() % data.size();
    ASSERT_EQ(crc32c(std::string_view(data).substr(cut), crc32c(std::string_view(data).substr(0, cut))), whole);
  }
}

}  // namespace
}  // namespace baleen
