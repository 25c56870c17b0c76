// `baleen sandbox create|exec|list|destroy` end to end through the built binary.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "../core/command_line.h"
#include "sandbox_fixture.h"

namespace baleen::sandbox {
namespace {

using testing::TempDir;

using baleen::test::Outcome;
Outcome run(const std::string& command) {
  return baleen::test::run_command_line(command);
}

class SandboxCli : public ::testing::TestWithParam<const char*> {};

TEST_P(SandboxCli, CreateExecListDestroy) {
  BALEEN_REQUIRE_SANDBOX(GetParam(), image);
  std::string substrate = GetParam();
  TempDir root;
  std::string baleen = std::string(BALEEN_BINARY) + " sandbox ";
  std::string at = " --root " + root.path() + " ";
  Outcome created = run(baleen + "create" + at + "--image " + image +
                        " --memory-mb 128 --pids 32 --substrate " + substrate);
  ASSERT_EQ(created.status, 0) << created.out;
  std::string id = created.out.substr(0, created.out.find('\n'));
  ASSERT_EQ(id.size(), 12u) << created.out;
  Outcome listed = run(baleen + "list" + at);
  EXPECT_TRUE(listed.out.starts_with(id + "\t" + substrate + "\talive\t")) << listed.out;
  EXPECT_EQ(run(baleen + "exec" + at + id + " -- echo hello").out, "hello\n");
  Outcome failed = run(baleen + "exec" + at + id + " --sh 'echo oops >&2; exit 7'");
  EXPECT_EQ(failed.status, 7);
  EXPECT_EQ(failed.out, "oops\n");
  EXPECT_EQ(run("echo piped | " + baleen + "exec" + at + id + " --stdin -- cat").out, "piped\n");
  EXPECT_EQ(run(baleen + "exec" + at + id + " --timeout 0.3 -- sleep 10").status, 124);
  EXPECT_EQ(run(baleen + "destroy" + at + id).status, 0);
  EXPECT_EQ(run(baleen + "list" + at).out, "");
  Outcome gone = run(baleen + "exec" + at + id + " -- true");
  EXPECT_EQ(gone.status, 1);
  EXPECT_NE(gone.out.find("no sandbox"), std::string::npos) << gone.out;
}

// A workspace at /work: the sandbox's changes are listed by `diff` and reach the host only by `apply`.
TEST_P(SandboxCli, WorkspaceDiffAndApply) {
  BALEEN_REQUIRE_SANDBOX(GetParam(), image);
  TempDir root, workspace;
  std::ofstream(workspace.path() + "/notes.txt") << "one\ntwo\n";
  std::string baleen = std::string(BALEEN_BINARY) + " sandbox ";
  std::string at = " --root " + root.path() + " ";
  Outcome created = run(baleen + "create" + at + "--image " + image + " --workspace " + workspace.path() +
                        " --substrate " + GetParam());
  ASSERT_EQ(created.status, 0) << created.out;
  std::string id = created.out.substr(0, created.out.find('\n'));
  EXPECT_EQ(run(baleen + "exec" + at + id + " -- wc -l notes.txt").out, "2 notes.txt\n");
  EXPECT_EQ(run(baleen + "exec" + at + id + " --sh 'echo three >> notes.txt; echo new > new.txt'").status, 0);
  EXPECT_EQ(run(baleen + "diff" + at + id).out, "A\tnew.txt\nM\tnotes.txt\n");
  std::ifstream before(workspace.path() + "/notes.txt");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(before), {}), "one\ntwo\n");
  EXPECT_EQ(run(baleen + "apply" + at + id).status, 0);
  std::ifstream after(workspace.path() + "/notes.txt");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(after), {}), "one\ntwo\nthree\n");
  EXPECT_TRUE(std::filesystem::exists(workspace.path() + "/new.txt"));
  EXPECT_EQ(run(baleen + "destroy" + at + id).status, 0);
}

INSTANTIATE_TEST_SUITE_P(Substrates, SandboxCli, ::testing::ValuesIn(testing::kImageSubstrates),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace baleen::sandbox
