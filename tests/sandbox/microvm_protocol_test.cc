#include "sandbox/microvm_protocol.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <random>

namespace baleen::sandbox {
namespace {

namespace proto = microvm_protocol;

// A client killed mid-frame leaves garbage in the channel: the next frame must still come through.
TEST(MicrovmProtocol, ReaderSkipsGarbageAndCutFramesToTheNextWholeFrame) {
  std::mt19937_64 rng(std::random_device{}());
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::vector<uint8_t> blob(1000 + rng() % 1000);
  for (auto& b : blob) b = static_cast<uint8_t>(rng());
  nlohmann::json message = {{"op", "exec_result"},
                            {"seq", static_cast<int64_t>(rng() >> 1)},
                            {"stdout", nlohmann::json::binary_t(blob)}};
  std::string garbage(1 + rng() % 200, '\0');
  for (char& c : garbage) c = static_cast<char>(rng());
  garbage += std::string("BLVM\x05\x00\x00\x00\x81", 9);  // a magic and a frame cut short
  ASSERT_EQ(::write(fds[1], garbage.data(), garbage.size()), static_cast<ssize_t>(garbage.size()));
  proto::write_frame(fds[1], message);
  proto::write_frame(fds[1], message);
  ::close(fds[1]);
  // The cut frame swallows the start of the first whole one; the second arrives intact.
  std::optional<nlohmann::json> got = proto::read_frame(fds[0]);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, message);
  EXPECT_FALSE(proto::read_frame(fds[0]).has_value()) << "end of file must read as nullopt";
  ::close(fds[0]);
}

}  // namespace
}  // namespace baleen::sandbox
