// `baleen agent --root DIR` on baleen-nano with each command-running substrate (process, container, microvm):
// the task "How many lines are in notes.txt?" runs `wc -l` in the sandbox's /work and the answer is the real
// file's count; the workspace on the host is unchanged, since a sandbox's changes stay in its layer (or in
// the VM) unless --apply writes them.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "../core/temp_dir.h"
#include "../sandbox/sandbox_fixture.h"
#include "cli_outcome.h"

namespace baleen::agent {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class AgentWorkspace : public ::testing::TestWithParam<const char*> {};

TEST_P(AgentWorkspace, CountsTheLinesOfTheRealFileAndLeavesTheHostUnchanged) {
  if (!testing::nano_available()) GTEST_SKIP() << "no tokenizer or unpacked baleen-nano (scripts/setup.sh)";
  std::string reason;
  if (!sandbox::testing::substrate_available(GetParam(), &reason)) GTEST_SKIP() << reason;
  const bool vm = std::string(GetParam()) == "microvm";
  const std::string image = vm ? sandbox::testing::microvm_image(&reason) : sandbox::testing::base_image(&reason);
  if (image.empty()) GTEST_SKIP() << reason;
  baleen::test::TempDir dir;
  const fs::path root = fs::path(dir.path()) / "root";
  fs::create_directories(root / "docs");
  // Seven lines: not a count the model could answer without reading the file.
  std::ofstream(root / "notes.txt") << "a\nb\nc\nd\ne\nf\ng\n";
  std::ofstream(root / "docs" / "readme.md") << "hello\n";
  const std::string command = fmt::format(
      "{} agent -p 'How many lines are in notes.txt?' --sandbox {} --image {} --root {} --log {}/log "
      "-n 160 --max-steps 4 2>{}/err",
      BALEEN_BINARY, GetParam(), image, root.string(), dir.path(), dir.path());
  const testing::Outcome out = testing::run_command_line("(" + command + ")");  // stderr to err only
  const std::string err = read_text(fs::path(dir.path()) / "err");
  ASSERT_EQ(out.status, 0) << out.out << err;
  EXPECT_NE(err.find("run_command {\"command\":\"wc -l notes.txt\"}"), std::string::npos) << err;
  EXPECT_NE(err.find("-> 7 notes.txt"), std::string::npos) << "the tool saw the real file: " << err;
  EXPECT_NE(out.out.find('7'), std::string::npos) << "the answer: " << out.out;
  EXPECT_EQ(read_text(root / "notes.txt"), "a\nb\nc\nd\ne\nf\ng\n");
  size_t entries = 0;
  for (const auto& entry : fs::recursive_directory_iterator(root)) entries += entry.exists() ? 1 : 0;
  EXPECT_EQ(entries, 3u) << "notes.txt, docs/, docs/readme.md and nothing else";
}

INSTANTIATE_TEST_SUITE_P(Substrates, AgentWorkspace, ::testing::Values("process", "container", "microvm"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace baleen::agent
