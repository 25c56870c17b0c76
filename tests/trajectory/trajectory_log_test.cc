#include "trajectory/trajectory_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "../core/temp_dir.h"
#include "core/error.h"

namespace baleen::trajectory {
namespace {

using baleen::test::TempDir;

std::vector<std::string> random_payloads(std::mt19937_64& rng, int count) {
  std::vector<std::string> payloads;
  for (int i = 0; i < count; ++i) {
    std::string payload(1 + rng() % 500, '\0');
    for (char& c : payload) c = static_cast<char>(rng());
    payloads.push_back(payload);
  }
  return payloads;
}

std::string bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void put_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

void write_log(const std::string& path, const std::vector<std::string>& payloads) {
  TrajectoryLog log = TrajectoryLog::open(path);
  for (const auto& p : payloads) log.append(p);
}

TEST(TrajectoryLog, AppendedRecordsReadBackAfterReopen) {
  TempDir dir;
  std::string path = dir.path() + "/log";
  std::mt19937_64 rng(1);
  auto payloads = random_payloads(rng, 20);
  write_log(path, payloads);
  TrajectoryLog log = TrajectoryLog::open(path);
  EXPECT_EQ(log.payloads(), payloads);
  EXPECT_EQ(log.torn_bytes_dropped(), 0);
  EXPECT_THROW(TrajectoryLog::open(path), Error) << "a second writer is refused";
}

TEST(TrajectoryLog, TornTailAtEveryCutIsTruncatedAndAppendingResumes) {
  TempDir dir;
  std::string path = dir.path() + "/log";
  std::mt19937_64 rng(2);
  auto payloads = random_payloads(rng, 4);
  write_log(path, payloads);
  std::string full = bytes_of(path);
  size_t last_start = full.size() - 16 - payloads.back().size();
  for (size_t cut = last_start + 1; cut < full.size(); ++cut) {
    put_bytes(path, full.substr(0, cut));
    {
      TrajectoryLog log = TrajectoryLog::open(path);
      ASSERT_EQ(log.payloads().size(), 3u) << "cut at " << cut;
      EXPECT_EQ(log.torn_bytes_dropped(), static_cast<int64_t>(cut - last_start));
      log.append("after");
    }
    auto reread = TrajectoryLog::read(path);
    ASSERT_EQ(reread.payloads.size(), 4u);
    EXPECT_EQ(reread.payloads.back(), "after");
    EXPECT_EQ(reread.torn_bytes, 0);
  }
  // A tail of garbage (a torn write that left junk) is also a torn tail.
  put_bytes(path, full + std::string(37, '\x5a'));
  EXPECT_EQ(TrajectoryLog::open(path).payloads(), payloads);
  // A crash while writing the file header leaves an empty log.
  put_bytes(path, full.substr(0, 5));
  EXPECT_TRUE(TrajectoryLog::open(path).payloads().empty());
}

TEST(TrajectoryLog, CorruptRecordBeforeTheTailIsAnError) {
  TempDir dir;
  std::string path = dir.path() + "/log";
  std::mt19937_64 rng(3);
  auto payloads = random_payloads(rng, 5);
  write_log(path, payloads);
  std::string full = bytes_of(path);
  size_t second = 16 + 16 + payloads[0].size();
  for (size_t offset : {second + 4, second + 9, second + 16 + payloads[1].size() / 2}) {
    std::string damaged = full;
    damaged[offset] = static_cast<char>(damaged[offset] ^ 0x40);
    put_bytes(path, damaged);
    try {
      TrajectoryLog::open(path);
      FAIL() << "corruption at byte " << offset << " was not reported";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("corrupt"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(std::to_string(second)), std::string::npos) << e.what();
    }
    EXPECT_EQ(bytes_of(path), damaged) << "a corrupt log is never modified";
  }
  put_bytes(path, "not a log at all, just text");
  EXPECT_THROW(TrajectoryLog::open(path), Error);
}

}  // namespace
}  // namespace baleen::trajectory
