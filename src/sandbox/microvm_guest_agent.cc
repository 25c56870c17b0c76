// The guest agent of the `microvm` substrate: pid 1 of the VM after scripts/microvm/init, serving
// microvm_protocol.h requests on the virtio-serial port named on its command line. Built static
// (it runs from the initramfs, which has no libc). The VM is the isolation boundary, so commands
// run as the guest's root; the agent runs them, bounds them and reports. Bounds besides the VM's size,
// the same as the process substrate's so one escape suite covers both: a pids cgroup (Limits::pids for
// all commands alive at once), no capabilities, the process substrate's seccomp filter (the host compiles
// it and sends it with each exec: the guest has no libseccomp), /proc/sys and /sys read-only and
// /proc/sysrq-trigger masked (uid 0 passes their permission checks even without capabilities).
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "sandbox/microvm_protocol.h"

namespace baleen::sandbox {
namespace {

namespace proto = microvm_protocol;
using nlohmann::json;
using Bytes = json::binary_t;

struct OwnedFd {
  int fd = -1;
  ~OwnedFd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

std::string as_string(const json& value) {
  if (value.is_binary()) return {value.get_binary().begin(), value.get_binary().end()};
  return value.get<std::string>();
}

Bytes as_bytes(const std::string& text) {
  return Bytes(std::vector<uint8_t>(text.begin(), text.end()));
}

// Opens `path` with the guest's '/' as the root: '..' and symlinks resolve inside it.
int open_in_root(const std::string& path, int flags, int mode) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.mode = static_cast<uint64_t>(mode);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  std::string relative = path.substr(
      path.find_first_not_of('/') == std::string::npos ? path.size() : path.find_first_not_of('/'));
  if (relative.empty()) relative = ".";
  long fd = ::syscall(SYS_openat2, AT_FDCWD, relative.c_str(), &how, sizeof(how));
  if (fd < 0 && errno == ENOENT && !(flags & O_CREAT)) fail("'{}' does not exist", path);
  check(fd >= 0, "cannot open '{}': {}", path, std::strerror(errno));
  return static_cast<int>(fd);
}

// Reads what is available without blocking, keeping up to `cap` bytes (0: no cap).
bool drain(int fd, std::string* out, bool* truncated, int64_t cap) {
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno == EAGAIN;
    if (n == 0) return false;
    size_t room = cap <= 0
                      ? static_cast<size_t>(n)
                      : static_cast<size_t>(std::max<int64_t>(0, cap - static_cast<int64_t>(out->size())));
    out->append(buffer, std::min(room, static_cast<size_t>(n)));
    if (static_cast<size_t>(n) > room) *truncated = true;
  }
}

void make_pipe(OwnedFd* read_end, OwnedFd* write_end) {
  int fds[2];
  check(::pipe2(fds, O_CLOEXEC) == 0, "cannot create a pipe: {}", std::strerror(errno));
  read_end->fd = fds[0];
  write_end->fd = fds[1];
}

bool write_text(const std::string& path, const std::string& text) {
  OwnedFd fd{::open(path.c_str(), O_WRONLY | O_CLOEXEC)};
  return fd.fd >= 0 && ::write(fd.fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
}

// The commands' cgroup, made once (cgroup2 with the pids controller; the agent stays in the root
// cgroup), its pids.max set to `pids` (0: no limit). Returns its cgroup.procs, for the command to join.
int commands_cgroup(int64_t pids) {
  const std::string dir = "/sys/fs/cgroup/commands";
  static bool made = false;
  if (!made) {
    bool ok =
        (::mount("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) == 0 ||
         errno == EBUSY) &&
        write_text("/sys/fs/cgroup/cgroup.subtree_control", "+pids") &&
        (::mkdir(dir.c_str(), 0755) == 0 || errno == EEXIST);
    check(ok, "cannot make the commands' pids cgroup: {}", std::strerror(errno));
    made = true;
  }
  check(write_text(dir + "/pids.max", pids > 0 ? std::to_string(pids) : "max"), "cannot set pids.max: {}",
        std::strerror(errno));
  int procs = ::open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
  check(procs >= 0, "cannot open the commands' cgroup.procs: {}", std::strerror(errno));
  return procs;
}

// Read-only /proc/sys (a bind of itself) and /sys (its own mount), each remounted read-only (commands
// cannot remount: seccomp), and /dev/null over /proc/sysrq-trigger, as in the process substrate's
// sandboxes. Before /sys/fs/cgroup is mounted, which stays writable for the agent.
void protect_kernel_interfaces() {
  constexpr unsigned long kReadOnly = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
  check(::mount("/proc/sys", "/proc/sys", nullptr, MS_BIND, nullptr) == 0 &&
            ::mount(nullptr, "/proc/sys", nullptr, kReadOnly, nullptr) == 0 &&
            ::mount(nullptr, "/sys", nullptr, kReadOnly, nullptr) == 0,
        "cannot make /proc/sys and /sys read-only: {}", std::strerror(errno));
  check(::mount("/dev/null", "/proc/sysrq-trigger", nullptr, MS_BIND, nullptr) == 0 || errno == ENOENT,
        "cannot mask /proc/sysrq-trigger: {}", std::strerror(errno));
}

// Empties the bounding set and every capability set: the command's execve then grants none.
bool drop_capabilities() {
  for (int cap = 0; cap <= 63; ++cap) {
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) return false;
  }
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  return ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == 0 &&
         ::syscall(SYS_capset, &header, data) == 0;
}

// What a command runs under: its cgroup and the seccomp filter (empty: none).
struct Confinement {
  int cgroup_procs = -1;
  std::vector<sock_filter> seccomp;
};

// Forks the command; a failed chdir, confinement or execve is reported through `status_write` as
// {stage, errno} (1 = chdir, 2 = execve, 3 = cgroup or seccomp) so the caller can tell it from the
// command's own exit.
pid_t spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env, const std::string& cwd,
            const Confinement& confinement, int stdin_fd, int stdout_fd, int stderr_fd, int status_write) {
  sock_fprog program{static_cast<unsigned short>(confinement.seccomp.size()),
                     const_cast<sock_filter*>(confinement.seccomp.data())};
  std::vector<char*> args, envp;
  for (const auto& s : argv) args.push_back(const_cast<char*>(s.c_str()));
  for (const auto& s : env) envp.push_back(const_cast<char*>(s.c_str()));
  args.push_back(nullptr);
  envp.push_back(nullptr);
  pid_t pid = ::fork();
  check(pid >= 0, "cannot fork: {}", std::strerror(errno));
  if (pid > 0) return pid;
  ::setsid();
  ::dup2(stdin_fd, 0);
  ::dup2(stdout_fd, 1);
  ::dup2(stderr_fd, 2);
  ::signal(SIGPIPE, SIG_DFL);
  int failure[2] = {3, 0};
  // The cgroup, the capabilities, then the filter (which leaves chdir and execve alone).
  const bool confined =
      ::write(confinement.cgroup_procs, "0", 1) == 1 && drop_capabilities() &&
      (confinement.seccomp.empty() || (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
                                       ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) == 0));
  if (confined) failure[0] = 1;
  if (confined && ::chdir(cwd.c_str()) == 0) {
    environ = envp.data();  // execvp searches the command's PATH, not the agent's
    ::execvp(args[0], args.data());
    failure[0] = 2;
  }
  failure[1] = errno;
  [[maybe_unused]] ssize_t ignored = ::write(status_write, failure, sizeof(failure));
  ::_exit(127);
}

json run_exec(const json& request) {
  std::vector<std::string> argv = request.at("argv"), env = request.at("env");
  std::string cwd = request.at("cwd"), stdin_data = as_string(request.at("stdin"));
  int64_t cap = request.at("output_bytes");
  auto timeout = std::chrono::milliseconds(request.at("timeout_ms").get<int64_t>());
  check(!argv.empty(), "exec: empty argv");
  Confinement confinement;
  const Bytes& filter = request.at("seccomp").get_binary();
  check(filter.size() % sizeof(sock_filter) == 0 && filter.size() / sizeof(sock_filter) <= BPF_MAXINSNS,
        "exec: the seccomp filter is {} bytes, not whole instructions", filter.size());
  confinement.seccomp.resize(filter.size() / sizeof(sock_filter));
  if (!filter.empty()) std::memcpy(confinement.seccomp.data(), filter.data(), filter.size());
  OwnedFd procs{commands_cgroup(request.at("pids").get<int64_t>())};
  confinement.cgroup_procs = procs.fd;

  OwnedFd in_read, in_write, out_read, out_write, err_read, err_write, status_read, status_write;
  make_pipe(&in_read, &in_write);
  make_pipe(&out_read, &out_write);
  make_pipe(&err_read, &err_write);
  make_pipe(&status_read, &status_write);
  auto start = std::chrono::steady_clock::now();
  pid_t pid = spawn(argv, env, cwd, confinement, in_read.fd, out_write.fd, err_write.fd, status_write.fd);
  for (OwnedFd* end : {&in_read, &out_write, &err_write, &status_write}) end->reset();
  OwnedFd exited{static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))};
  check(exited.fd >= 0, "pidfd_open: {}", std::strerror(errno));
  for (int fd : {in_write.fd, out_read.fd, err_read.fd})
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  if (stdin_data.empty()) in_write.reset();

  std::string out, err;
  bool out_truncated = false, err_truncated = false, out_open = true, err_open = true, timed_out = false;
  size_t written = 0;
  auto deadline = start + timeout;
  for (;;) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd fds[4] = {{exited.fd, POLLIN, 0},
                     {out_open ? out_read.fd : -1, POLLIN, 0},
                     {err_open ? err_read.fd : -1, POLLIN, 0},
                     {in_write.fd, POLLOUT, 0}};
    int ready = ::poll(fds, 4, timed_out ? -1 : static_cast<int>(std::max<int64_t>(0, left.count())));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      // Everything but the agent (pid 1): a timed-out command's background children go too.
      ::kill(::getpid() == 1 ? -1 : -pid, SIGKILL);
      timed_out = true;
      continue;
    }
    if (fds[1].revents) out_open = drain(out_read.fd, &out, &out_truncated, cap);
    if (fds[2].revents) err_open = drain(err_read.fd, &err, &err_truncated, cap);
    if (fds[3].revents) {
      ssize_t n = ::write(in_write.fd, stdin_data.data() + written, stdin_data.size() - written);
      if (n > 0) written += static_cast<size_t>(n);
      if ((n < 0 && errno != EAGAIN && errno != EINTR) || written == stdin_data.size()) in_write.reset();
    }
    if (fds[0].revents) break;
  }
  // Background children may hold the pipes open: take only what is there now.
  drain(out_read.fd, &out, &out_truncated, cap);
  drain(err_read.fd, &err, &err_truncated, cap);
  int status = 0;
  rusage usage{};
  while (::wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
  }
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  json result = {{"op", "exec_result"},
                 {"exit_code", -1},
                 {"signal", 0},
                 {"timed_out", timed_out},
                 {"stdout_truncated", out_truncated},
                 {"stderr_truncated", err_truncated},
                 {"wall_ns", static_cast<int64_t>(wall * 1e9)},
                 {"cpu_us", (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1'000'000 +
                                usage.ru_utime.tv_usec + usage.ru_stime.tv_usec},
                 {"max_rss_kb", usage.ru_maxrss}};
  int failure[2] = {0, 0};
  if (::read(status_read.fd, failure, sizeof(failure)) == sizeof(failure)) {
    const char* what = failure[0] == 1   ? "cannot enter directory"
                       : failure[0] == 3 ? "cannot confine (pids cgroup, capabilities, seccomp)"
                                         : "cannot run";
    const std::string& subject = failure[0] == 1 ? cwd : argv[0];
    err += "baleen sandbox: " + std::string(what) + " '" + subject + "': " + std::strerror(failure[1]) + "\n";
    result["exit_code"] = failure[0] == 2 && failure[1] == ENOENT ? 127 : 126;
  } else if (WIFSIGNALED(status)) {
    result["signal"] = WTERMSIG(status);
  } else {
    result["exit_code"] = WEXITSTATUS(status);
  }
  result["stdout"] = as_bytes(out);
  result["stderr"] = as_bytes(err);
  return result;
}

void make_parents(const std::string& path) {
  for (size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    std::string dir = path.substr(0, slash);
    struct stat info;
    if (::stat(dir.c_str(), &info) == 0) continue;
    check(::mkdir(dir.c_str(), 0755) == 0 || errno == EEXIST, "cannot create '{}': {}", dir,
          std::strerror(errno));
  }
}

json write_file(const json& request) {
  std::string path = request.at("path");
  int mode = request.at("mode");
  make_parents(path);
  OwnedFd fd{open_in_root(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode)};
  std::string data = as_string(request.at("data"));
  for (size_t done = 0; done < data.size();) {
    ssize_t n = ::write(fd.fd, data.data() + done, data.size() - done);
    check(n > 0 || errno == EINTR, "cannot write '{}': {}", path, std::strerror(errno));
    if (n > 0) done += static_cast<size_t>(n);
  }
  check(::fchmod(fd.fd, static_cast<mode_t>(mode)) == 0, "cannot chmod '{}': {}", path, std::strerror(errno));
  return {{"op", "ok"}};
}

json read_file(const json& request) {
  std::string path = request.at("path");
  int64_t max_bytes = request.at("max_bytes");
  OwnedFd fd{open_in_root(path, O_RDONLY, 0)};
  std::string data;
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(fd.fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    check(n >= 0, "cannot read '{}': {}", path, std::strerror(errno));
    if (n == 0) break;
    data.append(buffer, static_cast<size_t>(n));
    check(static_cast<int64_t>(data.size()) <= max_bytes, "'{}' is larger than {} bytes", path, max_bytes);
  }
  return {{"op", "file"}, {"data", as_bytes(data)}};
}

json handle(const json& request) {
  std::string op = request.at("op");
  if (op == "ping") return {{"op", "pong"}};
  if (op == "exec") return run_exec(request);
  if (op == "write_file") return write_file(request);
  if (op == "read_file") return read_file(request);
  if (op == "shutdown") return {{"op", "ok"}};
  fail("unknown request '{}'", op);
}

void serve(int port) {
  for (;;) {
    std::optional<json> request = proto::read_frame(port);
    if (!request) {
      // No host connected: reads return end of file (and poll reports POLLHUP) until one is.
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    json reply;
    try {
      reply = handle(*request);
    } catch (const std::exception& e) {
      reply = {{"op", "error"}, {"message", e.what()}};
    }
    if (request->contains("seq")) reply["seq"] = (*request)["seq"];
    try {
      proto::write_frame(port, reply);  // blocks while no host is connected
    } catch (const Error& e) {
      std::fprintf(stderr, "baleen-guest-agent: %s\n", e.what());  // that host is gone; serve the next
    }
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {  // orphans reparented to pid 1
    }
    if (request->value("op", "") == "shutdown") {
      ::sync();
      ::reboot(RB_POWER_OFF);
    }
  }
}

}  // namespace
}  // namespace baleen::sandbox

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: baleen-guest-agent /dev/vportNpM\n");
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  int port = ::open(argv[1], O_RDWR | O_CLOEXEC);
  if (port < 0) {
    std::fprintf(stderr, "baleen-guest-agent: cannot open %s: %s\n", argv[1], std::strerror(errno));
    return 1;
  }
  try {
    baleen::sandbox::protect_kernel_interfaces();
    baleen::sandbox::serve(port);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "baleen-guest-agent: %s\n", e.what());
  }
  return 1;
}
