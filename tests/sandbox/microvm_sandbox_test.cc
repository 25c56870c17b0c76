// The microvm substrate end to end: boots ONE VM (TCG here, ~15-60 s) and runs every check in it,
// since each ctest case is its own process and a boot per check would dominate CI time.
#include "sandbox/microvm_sandbox.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "core/error.h"
#include "sandbox/sandbox.h"
#include "sandbox_fixture.h"

namespace baleen::sandbox {
namespace {

using testing::TempDir;

using testing::microvm_image;

std::string random_bytes(std::mt19937_64& rng, size_t size) {
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(rng());
  return bytes;
}

SandboxSpec spec_in(const std::string& image, const TempDir& state) {
  SandboxSpec spec;
  spec.image = image;
  spec.state_root = state.path();
  return spec;
}

ExecResult sh(Sandbox& sandbox, const std::string& line) {
  ExecRequest request;
  request.shell = line;
  return sandbox.exec(request);
}

TEST(MicrovmSandbox, OneVmRunsCommandsMovesFilesKeepsLimitsAndIsDestroyed) {
  std::string reason;
  std::string image = microvm_image(&reason);
  if (image.empty()) GTEST_SKIP() << reason;
  TempDir state;
  SandboxSpec spec = spec_in(image, state);
  spec.limits.memory_bytes = int64_t{192} << 20;
  spec.limits.disk_bytes = int64_t{24} << 20;
  spec.limits.output_bytes = int64_t{64} << 10;
  spec.limits.wall_timeout = std::chrono::milliseconds(120'000);
  spec.limits.pids = 48;
  TempDir workspace;
  std::filesystem::create_directories(workspace.path() + "/sub");
  std::ofstream(workspace.path() + "/notes.txt") << "one\ntwo\nthree\n";
  std::ofstream(workspace.path() + "/sub/a.txt") << "a\n";
  spec.workspace = Workspace{workspace.path()};
  auto sandbox = create_sandbox("microvm", spec);
  std::mt19937_64 rng(std::random_device{}());
  std::string token = std::to_string(rng());

  {
    SCOPED_TRACE("the workspace: a copy at /work, the working directory; the host's stays as it was");
    ExecResult result = sh(*sandbox, "pwd; wc -l notes.txt; cat sub/a.txt; echo four >> notes.txt");
    EXPECT_EQ(result.exit_code, 0) << result.stderr_data;
    EXPECT_EQ(result.stdout_data, "/work\n3 notes.txt\na\n");
    EXPECT_EQ(sandbox->read_file("notes.txt"), "one\ntwo\nthree\nfour\n");
    std::ifstream host(workspace.path() + "/notes.txt");
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(host), {}), "one\ntwo\nthree\n");
    EXPECT_THROW(sandbox->workspace_changes(), Error);
    spec.workspace->mode = WorkspaceMode::kReadWrite;
    EXPECT_THROW(create_sandbox("microvm", spec), Error) << "no filesystem is shared with the host";
    spec.workspace->mode = WorkspaceMode::kCopyOnWrite;
  }
  {
    SCOPED_TRACE("argv, env, cwd");
    ExecRequest request;
    request.argv = {"sh", "-c", "echo \"$1 $GREETING\"; pwd", "sh", token};
    request.env = {"PATH=/bin:/usr/bin", "GREETING=hi"};
    request.cwd = "/tmp";
    ExecResult result = sandbox->exec(request);
    EXPECT_EQ(result.exit_code, 0) << result.stderr_data;
    EXPECT_EQ(result.stdout_data, token + " hi\n/tmp\n");
    EXPECT_GT(result.wall_seconds, 0.0);
    EXPECT_GT(result.peak_memory_bytes, 0);
  }
  {
    SCOPED_TRACE("shell line, stderr, exit code, binary stdin");
    std::string input = random_bytes(rng, 50'000);  // under the 64 KiB output cap
    ExecRequest request;
    request.shell = "cat; echo err >&2; exit 3";
    request.stdin_data = input;
    ExecResult result = sandbox->exec(request);
    EXPECT_EQ(result.exit_code, 3);
    EXPECT_EQ(result.signal, 0);
    EXPECT_TRUE(result.stdout_data == input)
        << "stdin came back as " << result.stdout_data.size() << " bytes";
    EXPECT_EQ(result.stderr_data, "err\n");
  }
  {
    SCOPED_TRACE("exec failures and signals");
    ExecRequest missing;
    missing.argv = {"no-such-command-" + token};
    EXPECT_EQ(sandbox->exec(missing).exit_code, 127);
    ExecRequest bad_cwd;
    bad_cwd.argv = {"true"};
    bad_cwd.cwd = "/no/such/dir";
    ExecResult result = sandbox->exec(bad_cwd);
    EXPECT_EQ(result.exit_code, 126);
    EXPECT_NE(result.stderr_data.find("cannot enter directory"), std::string::npos) << result.stderr_data;
    EXPECT_EQ(sh(*sandbox, "kill -TERM $$").signal, SIGTERM);
  }
  {
    SCOPED_TRACE("timeout kills, the VM stays usable");
    ExecRequest request;
    request.shell = "echo started; sleep 600";
    request.timeout = std::chrono::milliseconds(1'500);
    ExecResult result = sandbox->exec(request);
    EXPECT_TRUE(result.timed_out);
    EXPECT_EQ(result.signal, SIGKILL);
    EXPECT_EQ(result.stdout_data, "started\n");
    EXPECT_EQ(sh(*sandbox, "echo again").stdout_data, "again\n");
  }
  {
    SCOPED_TRACE("output cap");
    ExecResult result = sh(*sandbox, "head -c 200000 /dev/zero; echo small >&2");
    EXPECT_EQ(result.stdout_data.size(), size_t{64} << 10);
    EXPECT_TRUE(result.stdout_truncated);
    EXPECT_FALSE(result.stderr_truncated);
  }
  {
    SCOPED_TRACE("file round trip");
    std::string data = random_bytes(rng, 300'000);
    sandbox->write_file("/work/" + token + "/nested/blob", data, 0600);
    EXPECT_TRUE(sandbox->read_file("/work/" + token + "/nested/blob", int64_t{1} << 20) == data);
    EXPECT_EQ(sh(*sandbox, "stat -c '%s %a' /work/" + token + "/nested/blob").stdout_data, "300000 600\n");
    sandbox->write_file("/work/script.sh", "echo from-script\n", 0755);
    EXPECT_EQ(sh(*sandbox, "/work/script.sh").stdout_data, "from-script\n");
    EXPECT_EQ(sandbox->read_file("/../../etc/hostname", 4096), "sandbox\n");  // '..' stops at the root
    EXPECT_THROW(sandbox->read_file("/no/such/file", 4096), Error);
    EXPECT_THROW(sandbox->read_file("/work/" + token + "/nested/blob", 1000), Error);
  }
  {
    SCOPED_TRACE("limits: memory, disk, no network");
    ExecResult meminfo = sh(*sandbox, "sed -n 's/^MemTotal: *\\([0-9]*\\) kB/\\1/p' /proc/meminfo");
    int64_t total_kb = std::stoll(meminfo.stdout_data);
    EXPECT_LE(total_kb * 1024, spec.limits.memory_bytes);
    EXPECT_GT(total_kb * 1024, spec.limits.memory_bytes / 2);
    ExecResult fill = sh(*sandbox, "dd if=/dev/zero of=/work/fill bs=1M count=40 2>&1; rm -f /work/fill");
    EXPECT_NE(fill.stdout_data.find("No space left"), std::string::npos) << fill.stdout_data;
    EXPECT_EQ(sh(*sandbox, "ls /sys/class/net").stdout_data, "lo\n");
  }
  {
    SCOPED_TRACE("pids limit and the process substrate's seccomp filter, in the guest");
    // The shell dies at its first refused fork; only builtins run after the bomb.
    ExecResult bomb = sh(*sandbox,
                         "(i=0; while [ $i -lt 100 ]; do sleep 1 & i=$((i+1)); done) 2>/dev/null; "
                         "read n < /sys/fs/cgroup/commands/pids.current; echo $n; "
                         "read key value < /sys/fs/cgroup/commands/pids.events; echo $key $value");
    ASSERT_EQ(bomb.exit_code, 0) << bomb.stderr_data;
    EXPECT_LE(std::stoll(bomb.stdout_data), spec.limits.pids) << bomb.stdout_data;
    EXPECT_NE(bomb.stdout_data.find("\nmax "), std::string::npos) << "pids.events counts refused forks";
    EXPECT_EQ(bomb.stdout_data.find("\nmax 0\n"), std::string::npos) << bomb.stdout_data;
    // The bomb's sleeps hold the cgroup full for a second: until then a command cannot join it.
    for (int i = 0; i < 50 && sh(*sandbox, "true").exit_code != 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    sandbox->write_file("/probe", testing::slurp(SANDBOX_PROBE), 0755);
    ExecResult seccomp =
        sh(*sandbox, "grep Seccomp: /proc/self/status; /probe unshare-user; /probe mount; true");
    EXPECT_EQ(seccomp.stdout_data.substr(0, 11), "Seccomp:\t2\n") << seccomp.stdout_data;
    EXPECT_EQ(seccomp.stdout_data.find("allowed"), std::string::npos) << seccomp.stdout_data;
    EXPECT_NE(seccomp.stdout_data.find("denied"), std::string::npos) << seccomp.stdout_data;
  }
  EXPECT_THROW(sandbox->snapshot(state.path() + "/snap"), Error);
  {
    SCOPED_TRACE("attach, list and destroy from another handle");
    auto listed = list_sandboxes(state.path());
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].substrate, "microvm");
    EXPECT_TRUE(listed[0].alive);
    auto other = attach_sandbox(state.path(), sandbox->id());
    EXPECT_EQ(sh(*other, "cat /work/script.sh").stdout_data, "echo from-script\n");
    other->destroy();
    other->destroy();  // idempotent
    EXPECT_FALSE(std::filesystem::exists(state.path() + "/" + sandbox->id()));
    sandbox->destroy();  // the VM is gone already: still no error
  }
}

// A recorded KVM failure of the image sends the next sandbox straight to TCG: no KVM attempt, no wait
// for its boot patience. The test plants the record (and removes it unless it was there before).
TEST(MicrovmSandbox, ARecordedKvmFailureBootsUnderTcgAtOnce) {
  std::string reason;
  std::string image = microvm_image(&reason);
  if (image.empty()) GTEST_SKIP() << reason;
  if (::access("/dev/kvm", R_OK | W_OK) != 0) GTEST_SKIP() << "no usable /dev/kvm: TCG is the only choice anyway";
  std::string record = microvm_kvm_failure_record(image);
  bool planted = !std::filesystem::exists(record);
  if (planted) {
    std::filesystem::create_directories(std::filesystem::path(record).parent_path());
    std::ofstream(record) << "planted by the test\n";
  }
  TempDir state;
  ::testing::internal::CaptureStderr();
  auto sandbox = create_sandbox("microvm", spec_in(image, state));
  std::string log = ::testing::internal::GetCapturedStderr();
  auto saved = nlohmann::json::parse(testing::slurp(state.path() + "/" + sandbox->id() + "/sandbox.json"));
  sandbox->destroy();
  if (planted) std::filesystem::remove(record);
  EXPECT_EQ(saved.value("accel", ""), "tcg");
  EXPECT_EQ(log.find("kvm boot failed"), std::string::npos) << "KVM was tried: " << log;
}

// BALEEN_MICROVM_ACCEL picks the accelerator (kvm | tcg); anything else is refused before QEMU starts.
TEST(MicrovmSandbox, UnknownAcceleratorIsRefusedByName) {
  std::string reason;
  std::string image = microvm_image(&reason);
  if (image.empty()) GTEST_SKIP() << reason;
  TempDir state;
  SandboxSpec spec = spec_in(image, state);
  ::setenv("BALEEN_MICROVM_ACCEL", "hvf", 1);
  try {
    create_sandbox("microvm", spec);
    ADD_FAILURE() << "BALEEN_MICROVM_ACCEL=hvf was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("BALEEN_MICROVM_ACCEL=hvf: expected kvm or tcg"), std::string::npos)
        << e.what();
  }
  ::unsetenv("BALEEN_MICROVM_ACCEL");
}

}  // namespace

}  // namespace baleen::sandbox
