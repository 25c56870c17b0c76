// The escape suite (issue 5 acceptance): each attempt runs in a sandbox of each image-based
// substrate (`process`, `container`) and must be contained, leave the host unharmed, and leave the
// next sandbox clean.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "agent/sandbox/image.h"
#include "agent/sandbox/process_sandbox.h"
#include "agent/sandbox/sandbox.h"
#include "core/error.h"
#include "sandbox_fixture.h"

namespace baleen::agent {
namespace {

using testing::TempDir;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class SandboxEscape : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    std::string reason;
    if (!testing::substrate_available(GetParam(), &reason)) GTEST_SKIP() << reason;
    image_ = testing::base_image(&reason);
    if (image_.empty()) GTEST_SKIP() << reason;
  }

  std::unique_ptr<Sandbox> make(int64_t memory = int64_t{128} << 20, int64_t pids = 64) {
    SandboxSpec spec;
    spec.image = image_;
    spec.state_root = state_.path();
    spec.limits.memory_bytes = memory;
    spec.limits.pids = pids;
    spec.limits.disk_bytes = int64_t{16} << 20;
    spec.limits.wall_timeout = std::chrono::milliseconds(20'000);
    auto sandbox = create_sandbox(GetParam(), spec);
    sandbox->write_file("/probe", slurp(SANDBOX_PROBE), 0755);
    return sandbox;
  }

  static ExecResult sh(Sandbox& sandbox, const std::string& line, int timeout_ms = 20'000) {
    ExecRequest request;
    request.shell = line;
    request.timeout = std::chrono::milliseconds(timeout_ms);
    return sandbox.exec(request);
  }

  // Runs the probe; expects it to report the attempt denied.
  static void expect_denied(Sandbox& sandbox, const std::string& action) {
    ExecResult result = sh(sandbox, "/probe " + action);
    EXPECT_EQ(result.exit_code, 0) << action << ": " << result.stdout_data << result.stderr_data;
    EXPECT_TRUE(result.stdout_data.starts_with("denied")) << action << ": " << result.stdout_data;
  }

  // A fresh sandbox sees only the image: nothing an earlier sandbox wrote, a working shell.
  void expect_next_sandbox_clean() {
    auto next = make();
    ExecResult result = sh(*next, "ls -a / | tr '\\n' ' '; cat /etc/passwd | head -n 1");
    EXPECT_EQ(result.exit_code, 0) << result.stderr_data;
    EXPECT_EQ(result.stdout_data.find("big"), std::string::npos) << result.stdout_data;
    EXPECT_EQ(result.stdout_data.find("escaped"), std::string::npos) << result.stdout_data;
    EXPECT_NE(result.stdout_data.find("root:x:0:0:root:/root:/bin/sh"), std::string::npos)
        << result.stdout_data;
    next->destroy();
  }

  TempDir state_;
  std::string image_;
};

TEST_P(SandboxEscape, ReadingAndWritingOutsideTheRootStayInside) {
  TempDir host;
  std::string secret = host.path() + "/secret";
  std::ofstream(secret) << "host secret";
  auto sandbox = make();
  ExecResult read =
      sh(*sandbox, "cat " + secret + " /../../.." + secret + " /proc/1/root" + secret + "; true");
  EXPECT_EQ(read.stdout_data.find("host secret"), std::string::npos) << read.stdout_data;
  sh(*sandbox, "mkdir -p " + host.path() + " && echo escaped > " + host.path() + "/escaped");
  EXPECT_FALSE(std::filesystem::exists(host.path() + "/escaped"));
  // The file API resolves '..' and absolute symlinks inside the sandbox's root.
  sh(*sandbox, "ln -s " + secret + " /link-out; ln -s /etc/passwd /link-passwd");
  EXPECT_THROW(sandbox->read_file("/link-out"), Error);
  EXPECT_EQ(sandbox->read_file("/../../link-passwd").substr(0, 4), "root");
  sandbox->write_file("/../../../" + host.path() + "/escaped", "escaped", 0644);
  EXPECT_FALSE(std::filesystem::exists(host.path() + "/escaped"));
  EXPECT_EQ(sandbox->read_file(host.path() + "/escaped"), "escaped");
  sandbox->destroy();
  EXPECT_EQ(slurp(secret), "host secret");
  expect_next_sandbox_clean();
}

TEST_P(SandboxEscape, NetworkReachesOnlyTheSandboxsOwnLoopback) {
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof(address);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), size), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &size), 0);
  int port = ntohs(address.sin_port);
  auto sandbox = make();
  expect_denied(*sandbox, "connect " + std::to_string(port));
  ExecResult interfaces = sh(*sandbox, "ip -o link | cut -d: -f2 | tr -d ' \\n'");
  EXPECT_EQ(interfaces.stdout_data, "lo");
  ExecResult own = sh(*sandbox, "/probe loopback");
  EXPECT_EQ(own.stdout_data, "allowed\n") << "the sandbox's own loopback should work";
  sandbox->destroy();
  ::close(listener);
  expect_next_sandbox_clean();
}

TEST_P(SandboxEscape, ForkBombStopsAtThePidsLimit) {
  auto sandbox = make(int64_t{256} << 20, 32);
  ExecResult bomb = sh(*sandbox, "bomb() { bomb | bomb & }; bomb; sleep 2; ps | wc -l", 6'000);
  EXPECT_LE(std::stoi(bomb.stdout_data.empty() ? "0" : bomb.stdout_data), 40) << bomb.stdout_data;
  // The limit was reached (forks refused), as the pids cgroup counts.
  auto state = nlohmann::json::parse(slurp(state_.path() + "/" + sandbox->id() + "/sandbox.json"));
  for (const std::string dir : state.at("cgroups")) {
    if (dir.find("/pids/") == std::string::npos) continue;
    std::string events = slurp(dir + "/pids.events");
    ASSERT_TRUE(events.starts_with("max ")) << events;
    EXPECT_GT(std::stoll(events.substr(4)), 0) << "the fork bomb never hit the pids limit";
    EXPECT_LE(std::stoll(slurp(dir + "/pids.current")), 32);
  }
  // The host still forks, and the sandbox's timeout and destroy clean up every bomb process.
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  ::waitpid(child, nullptr, 0);
  sandbox->destroy();
  expect_next_sandbox_clean();
}

TEST_P(SandboxEscape, MemoryBombIsKilledAtTheMemoryLimit) {
  auto sandbox = make(int64_t{64} << 20);
  ExecResult bomb = sh(*sandbox, "/probe memory 1024");
  EXPECT_EQ(bomb.signal, SIGKILL) << "exit " << bomb.exit_code << " " << bomb.stdout_data;
  ExecResult after = sh(*sandbox, "echo alive");
  EXPECT_EQ(after.stdout_data, "alive\n") << "the sandbox survives its OOM kill";
  sandbox->destroy();
  expect_next_sandbox_clean();
}

TEST_P(SandboxEscape, MountIsDenied) {
  auto sandbox = make();
  ExecResult result = sh(*sandbox, "mount -t tmpfs none /mnt");
  EXPECT_NE(result.exit_code, 0);
  expect_denied(*sandbox, "mount");
  sandbox->destroy();
  expect_next_sandbox_clean();
}

TEST_P(SandboxEscape, PtraceAndSignalsCannotReachHostProcessesOrInit) {
  pid_t host_child = ::fork();
  if (host_child == 0) {
    ::pause();
    ::_exit(0);
  }
  ASSERT_GT(host_child, 0);
  auto sandbox = make();
  expect_denied(*sandbox, "ptrace " + std::to_string(host_child));
  expect_denied(*sandbox, "ptrace 1");
  expect_denied(*sandbox, "kill " + std::to_string(host_child));
  EXPECT_EQ(::kill(host_child, 0), 0) << "the host process must be untouched";
  sh(*sandbox, "kill -9 1");
  EXPECT_EQ(sh(*sandbox, "echo alive").stdout_data, "alive\n") << "init survives kill -9 from inside";
  ::kill(host_child, SIGKILL);
  ::waitpid(host_child, nullptr, 0);
  sandbox->destroy();
  expect_next_sandbox_clean();
}

TEST_P(SandboxEscape, UnshareAndOtherPrivilegedCallsCannotRegainPrivileges) {
  auto sandbox = make();
  for (const char* action : {"unshare-user", "unshare-mount", "clone-user", "setns", "bpf", "keyctl"}) {
    expect_denied(*sandbox, action);
  }
  ExecResult status =
      sh(*sandbox, "grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status | tr -s '\\t ' ' '");
  EXPECT_NE(status.stdout_data.find("CapEff: 0000000000000000"), std::string::npos) << status.stdout_data;
  EXPECT_NE(status.stdout_data.find("CapBnd: 0000000000000000"), std::string::npos) << status.stdout_data;
  EXPECT_NE(status.stdout_data.find("NoNewPrivs: 1"), std::string::npos) << status.stdout_data;
  EXPECT_NE(status.stdout_data.find("Seccomp: 2"), std::string::npos) << status.stdout_data;
  ExecResult sysctl = sh(*sandbox, "echo 1 > /proc/sys/vm/drop_caches");
  EXPECT_NE(sysctl.exit_code, 0) << "/proc/sys must be read-only";
  sandbox->destroy();
  expect_next_sandbox_clean();
}

TEST_P(SandboxEscape, WritingAnImageLayerChangesOnlyTheSandboxsCopy) {
  Image image = Image::open(image_);
  std::string passwd = image.layers[0] + "/etc/passwd";
  std::string before = slurp(passwd);
  auto sandbox = make();
  ExecResult write =
      sh(*sandbox, "echo 'evil::0:0::/:/bin/sh' >> /etc/passwd && rm /bin/ls && tail -n 1 /etc/passwd");
  EXPECT_EQ(write.stdout_data, "evil::0:0::/:/bin/sh\n") << write.stderr_data;
  EXPECT_EQ(slurp(passwd), before);
  EXPECT_TRUE(std::filesystem::is_symlink(image.layers[0] + "/bin/ls"));
  sandbox->destroy();
  auto next = make();
  EXPECT_EQ(next->read_file("/etc/passwd"), before);
  ExecResult listed = sh(*next, "ls / > /dev/null && echo ok");
  EXPECT_EQ(listed.stdout_data, "ok\n") << listed.stderr_data;
  next->destroy();
}

TEST_P(SandboxEscape, FillingTheDiskStopsAtTheQuota) {
  struct statvfs host_before {};
  ASSERT_EQ(::statvfs(state_.path().c_str(), &host_before), 0);
  auto sandbox = make();
  ExecResult fill = sh(*sandbox, "dd if=/dev/zero of=/big bs=1M count=64");
  EXPECT_NE(fill.exit_code, 0);
  EXPECT_NE(fill.stderr_data.find("No space left"), std::string::npos) << fill.stderr_data;
  ExecResult size = sh(*sandbox, "du -m /big | cut -f1");
  EXPECT_LE(std::stoi(size.stdout_data), 16) << "the writable layer holds at most the 16 MiB quota";
  EXPECT_THROW(sandbox->write_file("/more", std::string(size_t{32} << 20, 'x'), 0644), Error);
  struct statvfs host_after {};
  ASSERT_EQ(::statvfs(state_.path().c_str(), &host_after), 0);
  int64_t host_used_mb =
      (static_cast<int64_t>(host_before.f_bavail) - static_cast<int64_t>(host_after.f_bavail)) *
          static_cast<int64_t>(host_before.f_frsize) >>
      20;
  EXPECT_LT(host_used_mb, 8) << "the host's disk must not fill";
  sandbox->destroy();
  expect_next_sandbox_clean();
}

INSTANTIATE_TEST_SUITE_P(Substrates, SandboxEscape, ::testing::ValuesIn(testing::kImageSubstrates),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace baleen::agent
