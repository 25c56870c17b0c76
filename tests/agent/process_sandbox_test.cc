#include "agent/sandbox/process_sandbox.h"

#include <gtest/gtest.h>

#include "agent/sandbox/sandbox.h"
#include "sandbox_fixture.h"

namespace baleen::agent {
namespace {

using testing::TempDir;

SandboxSpec spec_for(const std::string& image, const TempDir& state) {
  SandboxSpec spec;
  spec.image = image;
  spec.state_root = state.path();
  spec.limits.memory_bytes = int64_t{256} << 20;
  spec.limits.pids = 64;
  spec.limits.disk_bytes = int64_t{16} << 20;
  spec.limits.wall_timeout = std::chrono::milliseconds(20'000);
  return spec;
}

TEST(ProcessSandbox, RunsACommandAndReportsItsOutputAndStatus) {
  BALEEN_REQUIRE_PROCESS_SANDBOX(image);
  TempDir state;
  auto sandbox = create_sandbox("process", spec_for(image, state));
  ExecRequest request;
  request.shell = "echo out; echo err >&2; cat; exit 3";
  request.stdin_data = "from stdin\n";
  ExecResult result = sandbox->exec(request);
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_EQ(result.signal, 0);
  EXPECT_EQ(result.stdout_data, "out\nfrom stdin\n");
  EXPECT_EQ(result.stderr_data, "err\n");
  EXPECT_FALSE(result.stdout_truncated);
  EXPECT_GT(result.wall_seconds, 0.0);
  EXPECT_GT(result.peak_memory_bytes, 0);
  sandbox->destroy();
}

}  // namespace
}  // namespace baleen::agent
