// The workspace (sandbox.h) in each image-based substrate: `process` with and without its user namespace,
// `container`. Seen at /work as the commands' working directory; copy-on-write leaves the host directory
// as it was until apply; read-write changes it at once. (The microvm's copy: microvm_sandbox_test.cc.)
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "sandbox/sandbox.h"
#include "sandbox_fixture.h"

namespace baleen::sandbox {
namespace {

using testing::slurp;
using testing::TempDir;

class SandboxWorkspace : public testing::SubstrateTest {
 protected:
  void SetUp() override {
    SubstrateTest::SetUp();
    std::filesystem::create_directories(workspace_.path() + "/sub");
    std::ofstream(workspace_.path() + "/notes.txt") << "one\ntwo\nthree\n";
    std::ofstream(workspace_.path() + "/sub/old.txt") << "old\n";
    std::ofstream(workspace_.path() + "/same.txt") << "same\n";
  }

  std::unique_ptr<Sandbox> make(WorkspaceMode mode) {
    SandboxSpec spec = this->spec();
    spec.limits.disk_bytes = int64_t{16} << 20;
    spec.workspace = Workspace{workspace_.path(), mode};
    return create_sandbox(GetParam().substrate, spec);
  }

  static ExecResult sh(Sandbox& sandbox, const std::string& line) {
    ExecRequest request;
    request.shell = line;
    return sandbox.exec(request);
  }

  // Appends to notes.txt, adds new.txt and sub/deep/x, deletes sub/old.txt, rewrites same.txt unchanged.
  static void change(Sandbox& sandbox) {
    ExecResult r =
        sh(sandbox,
           "echo four >> notes.txt && echo new > new.txt && rm sub/old.txt && mkdir -p sub/deep && "
           "echo x > sub/deep/x && cp same.txt /tmp/s && cat /tmp/s > same.txt");
    ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  }

  TempDir workspace_;
};

TEST_P(SandboxWorkspace, IsTheWorkingDirectoryAndCopyOnWriteLeavesTheHostAsItWasUntilApplied) {
  auto sandbox = make(WorkspaceMode::kCopyOnWrite);
  EXPECT_EQ(sandbox->working_dir(), "/work");
  ExecResult count = sh(*sandbox, "pwd; wc -l notes.txt; stat -c %u /work/notes.txt; touch /work/own");
  EXPECT_EQ(count.exit_code, 0) << count.stderr_data;
  EXPECT_EQ(count.stdout_data, "/work\n3 notes.txt\n0\n");
  EXPECT_EQ(sandbox->read_file("notes.txt"), "one\ntwo\nthree\n");
  sh(*sandbox, "rm own");
  change(*sandbox);
  sandbox->write_file("api.txt", "from the api");
  EXPECT_EQ(slurp(workspace_.path() + "/notes.txt"), "one\ntwo\nthree\n") << "copy-on-write";
  EXPECT_FALSE(std::filesystem::exists(workspace_.path() + "/new.txt"));
  EXPECT_TRUE(std::filesystem::exists(workspace_.path() + "/sub/old.txt"));

  std::string listed;
  for (const WorkspaceChange& c : sandbox->workspace_changes())
    listed += fmt::format("{}{} ", "AMD"[c.kind], c.path);
  EXPECT_EQ(listed, "Aapi.txt Anew.txt Mnotes.txt Asub/deep/ Asub/deep/x Dsub/old.txt ");

  sandbox->apply_workspace();
  EXPECT_EQ(slurp(workspace_.path() + "/notes.txt"), "one\ntwo\nthree\nfour\n");
  EXPECT_EQ(slurp(workspace_.path() + "/new.txt"), "new\n");
  EXPECT_EQ(slurp(workspace_.path() + "/api.txt"), "from the api");
  EXPECT_EQ(slurp(workspace_.path() + "/sub/deep/x"), "x\n");
  EXPECT_FALSE(std::filesystem::exists(workspace_.path() + "/sub/old.txt"));
  EXPECT_FALSE(std::filesystem::exists(workspace_.path() + "/own"));
  struct stat made {
  }, dir{};
  ASSERT_EQ(::stat((workspace_.path() + "/new.txt").c_str(), &made), 0);
  ASSERT_EQ(::stat(workspace_.path().c_str(), &dir), 0);
  EXPECT_EQ(made.st_uid, dir.st_uid) << "applied files belong to the workspace's owner";
  EXPECT_TRUE(sandbox->workspace_changes().empty()) << "after apply the host matches the layer";
  sandbox->destroy();
  EXPECT_EQ(slurp(workspace_.path() + "/notes.txt"), "one\ntwo\nthree\nfour\n");
}

TEST_P(SandboxWorkspace, DestroyWithoutApplyLeavesTheHostUnchanged) {
  auto sandbox = make(WorkspaceMode::kCopyOnWrite);
  change(*sandbox);
  ExecResult big = sh(*sandbox, "dd if=/dev/zero of=/work/big bs=1M count=64");
  EXPECT_NE(big.exit_code, 0) << "the workspace's layer counts against the disk quota";
  sandbox->destroy();
  EXPECT_EQ(slurp(workspace_.path() + "/notes.txt"), "one\ntwo\nthree\n");
  EXPECT_TRUE(std::filesystem::exists(workspace_.path() + "/sub/old.txt"));
  EXPECT_FALSE(std::filesystem::exists(workspace_.path() + "/new.txt"));
  EXPECT_FALSE(std::filesystem::exists(workspace_.path() + "/big"));
}

TEST_P(SandboxWorkspace, ReadWriteChangesTheHostDirectoryAtOnce) {
  auto sandbox = make(WorkspaceMode::kReadWrite);
  change(*sandbox);
  EXPECT_EQ(slurp(workspace_.path() + "/notes.txt"), "one\ntwo\nthree\nfour\n");
  EXPECT_EQ(slurp(workspace_.path() + "/new.txt"), "new\n");
  EXPECT_FALSE(std::filesystem::exists(workspace_.path() + "/sub/old.txt"));
  EXPECT_TRUE(sandbox->workspace_changes().empty());
  struct stat made {};
  ASSERT_EQ(::stat((workspace_.path() + "/new.txt").c_str(), &made), 0);
  EXPECT_EQ(made.st_uid, 0u) << "the sandbox's root writes as the host's (idmapped with a user namespace)";
  sandbox->destroy();
}

INSTANTIATE_TEST_SUITE_P(Substrates, SandboxWorkspace, ::testing::ValuesIn(testing::kSubstrateCases),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace baleen::sandbox
