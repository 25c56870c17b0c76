// The escape suite (issues 5 and 21): each attempt runs in a sandbox of every substrate the host runs
// (`process` with and without its user namespace, `container`, `microvm` under KVM or TCG), with a
// workspace at /work, and must be contained, leave the host unharmed, and leave the next sandbox
// clean. Then what the user namespace adds.
#include <arpa/inet.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "sandbox/image.h"
#include "sandbox/process_sandbox.h"
#include "sandbox/sandbox.h"
#include "sandbox_fixture.h"

namespace baleen::sandbox {
namespace {

using testing::slurp;
using testing::TempDir;

// Every path, type, mode, link target and file byte beneath `dir` (sorted): what a sandbox may not change
// on the host, be it an image's layers or a microvm's kernel and initramfs.
std::string tree_contents(const std::string& dir) {
  std::vector<std::filesystem::path> paths;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) paths.push_back(entry.path());
  std::sort(paths.begin(), paths.end());
  std::string contents;
  for (const auto& path : paths) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) continue;
    contents += fmt::format("{} {:o}\n", path.string(), st.st_mode);
    if (S_ISLNK(st.st_mode)) contents += std::filesystem::read_symlink(path).string() + "\n";
    if (S_ISREG(st.st_mode)) contents += slurp(path.string());
  }
  return contents;
}

// The workspace is the one host directory inside: '..' and symlinks from it resolve in the sandbox, it
// cannot be unmounted, and nothing written through it reaches the host without apply.
class SandboxEscape : public testing::SubstrateTest {
 protected:
  void SetUp() override {
    SubstrateTest::SetUp();
    if (IsSkipped()) return;
    std::ofstream(workspace_.path() + "/inside.txt") << "inside\n";
    if (GetParam().boots_from_image_alone) image_contents_ = tree_contents(image_);
  }

  // Every probe runs with a (copy-on-write) workspace mounted at /work.
  std::unique_ptr<Sandbox> make(int64_t memory = int64_t{128} << 20, int64_t pids = 64) {
    SandboxSpec spec = this->spec();
    spec.limits.memory_bytes = memory;
    spec.limits.pids = pids;
    spec.limits.disk_bytes = int64_t{16} << 20;
    spec.limits.wall_timeout = std::chrono::milliseconds(20'000);
    spec.workspace = Workspace{workspace_.path()};
    auto sandbox = create_sandbox(GetParam().substrate, spec);
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
    if (GetParam().boots_from_image_alone) {
      EXPECT_TRUE(tree_contents(image_) == image_contents_) << "the image on the host changed";
      return;
    }
    auto next = make();
    ExecResult result = sh(*next, "ls -a / | tr '\\n' ' '; cat /etc/passwd | head -n 1");
    EXPECT_EQ(result.exit_code, 0) << result.stderr_data;
    EXPECT_EQ(result.stdout_data.find("big"), std::string::npos) << result.stdout_data;
    EXPECT_EQ(result.stdout_data.find("escaped"), std::string::npos) << result.stdout_data;
    EXPECT_NE(result.stdout_data.find("root:x:0:0:root:/root:/bin/sh"), std::string::npos)
        << result.stdout_data;
    next->destroy();
  }

  // The pids cgroup's "max" count (forks refused at the limit) and its current count, as the kernel
  // that enforces it reports them: the host's, or the guest's for a microvm.
  std::pair<int64_t, int64_t> pids_counts(Sandbox& sandbox) {
    std::string events, current;
    if (const char* inside = GetParam().pids_cgroup_inside) {
      events = sandbox.read_file(std::string(inside) + "/pids.events");
      current = sandbox.read_file(std::string(inside) + "/pids.current");
    } else {
      auto state = nlohmann::json::parse(slurp(state_.path() + "/" + sandbox.id() + "/sandbox.json"));
      for (const std::string dir : state.at("cgroups")) {
        if (dir.find("/pids/") == std::string::npos) continue;
        events = slurp(dir + "/pids.events");
        current = slurp(dir + "/pids.current");
      }
    }
    EXPECT_TRUE(events.starts_with("max ")) << events;
    if (!events.starts_with("max ") || current.empty()) return {-1, -1};
    return {std::stoll(events.substr(4)), std::stoll(current)};
  }

  TempDir workspace_;
  std::string image_contents_;  // boots_from_image_alone: the image's files before the test
};

TEST_P(SandboxEscape, TheWorkspaceLeadsNowhereElseOnTheHost) {
  TempDir host;
  std::string secret = host.path() + "/secret";
  std::ofstream(secret) << "host secret";
  std::filesystem::create_symlink(secret, workspace_.path() + "/link-out");
  std::filesystem::create_symlink("../../../../../../" + secret, workspace_.path() + "/dots-out");
  auto sandbox = make();
  ExecResult read = sh(*sandbox, "cat /work/link-out /work/dots-out /work/../.." + secret + "; true");
  EXPECT_EQ(read.stdout_data.find("host secret"), std::string::npos) << read.stdout_data;
  EXPECT_THROW(sandbox->read_file("link-out"), Error);
  ExecResult unmount = sh(*sandbox, "umount /work || umount -l /work");
  EXPECT_NE(unmount.exit_code, 0);
  sh(*sandbox,
     "echo escaped > /work/../escaped; echo escaped > /work/link-out; echo changed > /work/inside.txt; "
     "rm -f /work/dots-out");
  EXPECT_EQ(slurp(secret), "host secret");
  EXPECT_EQ(slurp(workspace_.path() + "/inside.txt"), "inside\n");
  EXPECT_TRUE(std::filesystem::is_symlink(workspace_.path() + "/dots-out"));
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(workspace_.path()).parent_path() / "escaped"));
  sandbox->destroy();
  EXPECT_EQ(slurp(workspace_.path() + "/inside.txt"), "inside\n");
  expect_next_sandbox_clean();
}

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
  sh(*sandbox, "bomb() { bomb | bomb & }; bomb; sleep 2", 6'000);
  // The limit was reached (forks refused) and held, as the pids cgroup counts.
  auto [refused, current] = pids_counts(*sandbox);
  EXPECT_GT(refused, 0) << "the fork bomb never hit the pids limit";
  EXPECT_LE(current, 32);
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
  // /sys is absent or read-only; writes to /proc/sysrq-trigger fail or reach /dev/null.
  ExecResult kernel = sh(*sandbox,
                         "awk '$2 == \"/proc/sys\" || $2 == \"/sys\" {split($4, o, \",\"); print $2, o[1]}' "
                         "/proc/mounts; [ ! -e /proc/sysrq-trigger ] || stat -c %t:%T /proc/sysrq-trigger");
  EXPECT_EQ(kernel.exit_code, 0) << kernel.stderr_data;
  for (const std::string line : {"/proc/sys rw", "/sys rw"})
    EXPECT_EQ(kernel.stdout_data.find(line), std::string::npos) << kernel.stdout_data;
  EXPECT_NE(kernel.stdout_data.find("/proc/sys ro\n"), std::string::npos) << kernel.stdout_data;
  EXPECT_TRUE(kernel.stdout_data.ends_with("ro\n") || kernel.stdout_data.ends_with("1:3\n"))
      << "/proc/sysrq-trigger is /dev/null (1:3) or absent: " << kernel.stdout_data;
  sandbox->destroy();
  expect_next_sandbox_clean();
}

TEST_P(SandboxEscape, WritingTheImageChangesOnlyTheSandboxsCopy) {
  std::string image_before = tree_contents(image_);
  auto sandbox = make();
  std::string passwd = sandbox->read_file("/etc/passwd");
  ExecResult write =
      sh(*sandbox, "echo 'evil::0:0::/:/bin/sh' >> /etc/passwd && rm /bin/ls && tail -n 1 /etc/passwd");
  EXPECT_EQ(write.stdout_data, "evil::0:0::/:/bin/sh\n") << write.stderr_data;
  EXPECT_TRUE(tree_contents(image_) == image_before) << "the image on the host changed";
  sandbox->destroy();
  auto next = make();
  EXPECT_EQ(next->read_file("/etc/passwd"), passwd);
  ExecResult listed = sh(*next, "ls / > /dev/null && echo ok");
  EXPECT_EQ(listed.stdout_data, "ok\n") << listed.stderr_data;
  next->destroy();
}

TEST_P(SandboxEscape, FillingTheDiskStopsAtTheQuota) {
  auto sandbox = make();
  struct statvfs host_before {};  // around the fill only: other work on the host writes to its disk too
  ASSERT_EQ(::statvfs(state_.path().c_str(), &host_before), 0);
  ExecResult fill = sh(*sandbox, "dd if=/dev/zero of=/big bs=1M count=64");
  EXPECT_NE(fill.exit_code, 0);
  EXPECT_NE(fill.stderr_data.find("No space left"), std::string::npos) << fill.stderr_data;
  struct statvfs host_after {};
  ASSERT_EQ(::statvfs(state_.path().c_str(), &host_after), 0);
  ExecResult size = sh(*sandbox, "du -m /big | cut -f1");
  EXPECT_LE(std::stoi(size.stdout_data), 16) << "the writable layer holds at most the 16 MiB quota";
  EXPECT_THROW(sandbox->write_file("/more", std::string(size_t{32} << 20, 'x'), 0644), Error);
  int64_t host_used_mb =
      (static_cast<int64_t>(host_before.f_bavail) - static_cast<int64_t>(host_after.f_bavail)) *
          static_cast<int64_t>(host_before.f_frsize) >>
      20;
  EXPECT_LT(host_used_mb, 8) << "the host's disk must not fill";
  sandbox->destroy();
  expect_next_sandbox_clean();
}

INSTANTIATE_TEST_SUITE_P(Substrates, SandboxEscape, ::testing::ValuesIn(testing::kEverySubstrateCase),
                         [](const auto& info) { return std::string(info.param.name); });

class ProcessUserNamespace : public ::testing::Test {
 protected:
  std::unique_ptr<Sandbox> make(bool user_namespace) {
    SandboxSpec spec;
    spec.image = image_;
    spec.state_root = state_.path();
    spec.limits.wall_timeout = std::chrono::milliseconds(20'000);
    if (!user_namespace) spec.user_namespace = std::nullopt;
    auto sandbox = create_sandbox("process", spec);
    sandbox->write_file("/probe", slurp(SANDBOX_PROBE), 0755);
    return sandbox;
  }
  static ExecResult sh(Sandbox& sandbox, const std::string& line) {
    ExecRequest request;
    request.shell = line;
    return sandbox.exec(request);
  }
  int init_pid(const Sandbox& sandbox) const {
    auto state = nlohmann::json::parse(slurp(state_.path() + "/" + sandbox.id() + "/sandbox.json"));
    return state.at("init_pid").get<int>();
  }
  // The host's path to `path` inside the sandbox: through its init's root (host root may).
  std::string host_path(const Sandbox& sandbox, const std::string& path) const {
    return fmt::format("/proc/{}/root{}", init_pid(sandbox), path);
  }

  TempDir state_;
  std::string image_;
};

// Inside, the sandbox's root is uid 0 and owns the image; on the host the sandbox's init (whose
// credentials every command inherits) and every file written inside belong to uid 100000, and no
// supplementary group of the creator's is kept.
TEST_F(ProcessUserNamespace, TheSandboxsRootIsAnUnprivilegedHostUser) {
  BALEEN_REQUIRE_PROCESS_SANDBOX(image);
  image_ = image;
  IdMapping ids;
  // The creator's supplementary groups (host root's group 0 among them) must not reach the sandbox.
  std::vector<gid_t> saved_groups(static_cast<size_t>(::getgroups(0, nullptr)));
  ASSERT_EQ(::getgroups(static_cast<int>(saved_groups.size()), saved_groups.data()),
            static_cast<int>(saved_groups.size()));
  const gid_t host_groups[] = {0, 4};
  ASSERT_EQ(::setgroups(2, host_groups), 0);
  auto sandbox = make(true);
  ASSERT_EQ(::setgroups(saved_groups.size(), saved_groups.data()), 0);
  sandbox->write_file("/work/api/from-host", "x");
  ExecResult inside =
      sh(*sandbox,
         "id -u; id -g; awk '{print $1, $2, $3}' /proc/self/uid_map /proc/self/gid_map; "
         "cat /proc/self/setgroups; stat -c %u:%g / /etc/passwd /work/api /work/api/from-host; "
         "echo made > /work/made && echo appended >> /etc/passwd");
  EXPECT_EQ(inside.exit_code, 0) << inside.stderr_data;
  std::string map = fmt::format("0 {} {}\n", ids.first, ids.count);
  EXPECT_EQ(inside.stdout_data, "0\n0\n" + map + map + "deny\n0:0\n0:0\n0:0\n0:0\n");
  for (const char* path : {"/work/made", "/etc/passwd", "/work/api/from-host"}) {
    struct stat st {};
    ASSERT_EQ(::stat(host_path(*sandbox, path).c_str(), &st), 0) << path;
    EXPECT_EQ(st.st_uid, ids.first) << path;
    EXPECT_EQ(st.st_gid, ids.first) << path;
  }
  std::string status = slurp(fmt::format("/proc/{}/status", init_pid(*sandbox)));
  EXPECT_NE(status.find(fmt::format("Uid:\t{0}\t{0}\t{0}\t{0}\n", ids.first)), std::string::npos) << status;
  EXPECT_NE(status.find(fmt::format("Gid:\t{0}\t{0}\t{0}\t{0}\n", ids.first)), std::string::npos) << status;
  size_t groups = status.find("Groups:");
  ASSERT_NE(groups, std::string::npos) << status;
  std::string group_list = status.substr(groups + 7, status.find('\n', groups) - groups - 7);
  EXPECT_EQ(group_list.find_first_of("0123456789"), std::string::npos) << "no host group: " << group_list;
  struct stat layer {};
  ASSERT_EQ(::stat((Image::open(image).layers[0] + "/etc/passwd").c_str(), &layer), 0);
  EXPECT_EQ(layer.st_uid, 0u) << "the image on the host keeps its own owners";
}

// /dev is a tmpfs of the sandbox's root, with or without the user namespace; its device nodes are made
// by init as host root, so inside a user namespace they read as the unmapped owner (65534) and still work.
TEST_F(ProcessUserNamespace, DevBelongsToTheSandboxsRootAndItsNodesToTheHost) {
  BALEEN_REQUIRE_PROCESS_SANDBOX(image);
  image_ = image;
  for (bool user_namespace : {true, false}) {
    SCOPED_TRACE(user_namespace ? "user namespace" : "host ids");
    auto sandbox = make(user_namespace);
    ExecResult dev = sh(*sandbox,
                        "stat -c %u:%g /dev; stat -c %u:%g:%a /dev/null; echo x > /dev/null && "
                        "head -c 4 /dev/zero | wc -c && touch /dev/made && stat -c %u /dev/made");
    EXPECT_EQ(dev.exit_code, 0) << dev.stderr_data;
    EXPECT_EQ(dev.stdout_data, user_namespace ? "0:0\n65534:65534:666\n4\n0\n" : "0:0\n0:0:666\n4\n0\n");
    sandbox->destroy();
  }
}

// A file of the host's root is not the sandbox root's: with the user namespace it reads as an
// unmapped owner (65534) that root inside can neither write nor take; without it, uid 0 inside
// owns it. Root inside cannot become another user either way.
TEST_F(ProcessUserNamespace, HostRootsFilesAreNotTheSandboxRootsFiles) {
  BALEEN_REQUIRE_PROCESS_SANDBOX(image);
  image_ = image;
  for (bool user_namespace : {true, false}) {
    SCOPED_TRACE(user_namespace ? "user namespace" : "host ids");
    auto sandbox = make(user_namespace);
    std::string file = host_path(*sandbox, "/work/host-owned");
    std::ofstream(file) << "host\n";
    ::chmod(file.c_str(), 0644);
    ExecResult owner = sh(*sandbox, "stat -c %u /work/host-owned; awk '{print $2}' /proc/self/uid_map");
    ExecResult write = sh(*sandbox, "echo sandbox >> /work/host-owned");
    ExecResult take = sh(*sandbox, "chown 0 /work/host-owned || chmod 666 /work/host-owned");
    if (user_namespace) {
      EXPECT_EQ(owner.stdout_data, "65534\n100000\n");
      EXPECT_NE(write.exit_code, 0);
      EXPECT_NE(write.stderr_data.find("Permission denied"), std::string::npos) << write.stderr_data;
      EXPECT_NE(take.exit_code, 0);
      EXPECT_EQ(slurp(file), "host\n");
    } else {
      EXPECT_EQ(owner.stdout_data, "0\n0\n");
      EXPECT_EQ(write.exit_code, 0) << write.stderr_data;
      EXPECT_EQ(slurp(file), "host\nsandbox\n");
    }
    ExecResult setuid = sh(*sandbox, "/probe setuid 1000");
    EXPECT_TRUE(setuid.stdout_data.starts_with("denied")) << setuid.stdout_data;
    sandbox->destroy();
  }
}

}  // namespace
}  // namespace baleen::sandbox
