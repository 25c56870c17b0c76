#include "sandbox/function_sandbox.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "sandbox_fixture.h"

namespace baleen::sandbox {
namespace {

using testing::TempDir;

class FunctionSandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = outer_.path() + "/root";
    std::filesystem::create_directories(root_ + "/sub");
    std::ofstream(outer_.path() + "/outside.txt") << "outside secret\n";
    std::ofstream(root_ + "/inside.txt") << "alpha\nneedle here\n";
    std::ofstream(root_ + "/sub/deep.txt") << "another needle\n";
    std::filesystem::create_symlink("../outside.txt", root_ + "/link-up");
    std::filesystem::create_symlink(outer_.path() + "/outside.txt", root_ + "/link-abs");
    std::filesystem::create_directory_symlink(outer_.path(), root_ + "/dir-link");
    SandboxSpec spec;
    spec.image = root_;
    spec.state_root = state_.path();
    sandbox_ = create_sandbox("function", spec);
  }

  ExecResult tool(std::vector<std::string> argv, std::string stdin_data = "") {
    ExecRequest request;
    request.argv = std::move(argv);
    request.stdin_data = std::move(stdin_data);
    return sandbox_->exec(request);
  }

  TempDir outer_, state_;
  std::string root_;
  std::unique_ptr<Sandbox> sandbox_;
};

TEST_F(FunctionSandboxTest, ToolsReadWriteListAndSearchInsideTheRoot) {
  EXPECT_EQ(tool({"read_file", "inside.txt"}).stdout_data, "alpha\nneedle here\n");
  EXPECT_EQ(tool({"write_file", "new/dir/file.txt"}, "hello").exit_code, 0);
  EXPECT_EQ(sandbox_->read_file("/new/dir/file.txt"), "hello");
  EXPECT_EQ(tool({"list_dir", "/"}).stdout_data, "dir-link@\ninside.txt\nlink-abs@\nlink-up@\nnew/\nsub/\n");
  EXPECT_EQ(tool({"search", "needle"}).stdout_data,
            "inside.txt:2:needle here\nsub/deep.txt:1:another needle\n");
  ExecResult unknown = tool({"rm", "-rf", "/"});
  EXPECT_EQ(unknown.exit_code, 127);
}

TEST_F(FunctionSandboxTest, DotDotSymlinksAndAbsolutePathsCannotLeaveTheRoot) {
  for (const std::string& path :
       std::vector<std::string>{"../outside.txt", "sub/../../outside.txt", "link-up", "link-abs",
                                "dir-link/outside.txt", outer_.path() + "/outside.txt"}) {
    ExecResult result = tool({"read_file", path});
    EXPECT_NE(result.exit_code, 0) << path;
    EXPECT_EQ(result.stdout_data.find("outside secret"), std::string::npos) << path;
    EXPECT_THROW(sandbox_->read_file(path), Error) << path;
  }
  EXPECT_THROW(sandbox_->write_file("../escaped.txt", "x"), Error);
  EXPECT_THROW(sandbox_->write_file("dir-link/escaped.txt", "x"), Error);
  EXPECT_THROW(sandbox_->write_file("link-abs", "x"), Error);
  EXPECT_THROW(sandbox_->write_file("dir-link/sub/escaped.txt", "x"), Error);
  EXPECT_FALSE(std::filesystem::exists(outer_.path() + "/escaped.txt"));
  EXPECT_FALSE(std::filesystem::exists(outer_.path() + "/sub"));
  std::ifstream outside(outer_.path() + "/outside.txt");
  std::string line;
  std::getline(outside, line);
  EXPECT_EQ(line, "outside secret");
  EXPECT_NE(tool({"list_dir", "dir-link"}).exit_code, 0);
  EXPECT_EQ(tool({"search", "secret", "/"}).stdout_data, "");
}

TEST_F(FunctionSandboxTest, AttachSnapshotAndDestroy) {
  auto again = attach_sandbox(state_.path(), sandbox_->id());
  EXPECT_EQ(again->read_file("inside.txt"), "alpha\nneedle here\n");
  std::string copy = outer_.path() + "/snapshot";
  sandbox_->snapshot(copy);
  EXPECT_TRUE(std::filesystem::exists(copy + "/sub/deep.txt"));
  ASSERT_EQ(list_sandboxes(state_.path()).size(), 1u);
  sandbox_->destroy();
  EXPECT_TRUE(list_sandboxes(state_.path()).empty());
  EXPECT_TRUE(std::filesystem::exists(root_ + "/inside.txt")) << "destroy keeps the user's directory";
}

TEST(SubstrateRegistry, UnknownSubstratesAndMissingImagesAreClearErrors) {
  SandboxSpec spec;
  try {
    create_sandbox("vm", spec);
    FAIL() << "an unknown substrate should throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("function, process, container or microvm"), std::string::npos)
        << e.what();
  }
  spec.image = "/nonexistent/baleen-image";
  for (const char* name : {"process", "container", "microvm"}) {
    EXPECT_THROW(create_sandbox(name, spec), Error) << name;
  }
}

}  // namespace
}  // namespace baleen::sandbox
