// Golden prompts written by hand from DeepSeek's encoders (sources in tests/fixtures/chat/golden/README.md).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "chat/render_request.h"

namespace baleen::chat {
namespace {

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The first byte where two strings differ, for a readable failure.
std::string first_difference(const std::string& got, const std::string& want) {
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  return "first difference at byte " + std::to_string(i) + ": got \"" + got.substr(i, 40) + "\" want \"" +
         want.substr(i, 40) + "\"";
}

TEST(EncoderGolden, EveryGoldenRequestRendersItsPromptByteForByte) {
  const std::filesystem::path dir = std::filesystem::path(BALEEN_SOURCE_DIR) / "tests/fixtures/chat/golden";
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    const std::string request = read_file(entry.path());
    const std::string want = read_file(std::filesystem::path(entry.path()).replace_extension(".txt"));
    const std::string got = render_request_text(request);
    EXPECT_EQ(got, want) << entry.path().filename() << ": " << first_difference(got, want);
    ++n;
  }
  EXPECT_EQ(n, 3);
}

}  // namespace
}  // namespace baleen::chat
