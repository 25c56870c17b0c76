#include "sandbox/crun.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "sandbox/confined_path.h"

extern char** environ;

namespace baleen::sandbox {

namespace {

constexpr const char* kUnified = "/sys/fs/cgroup/unified";

// crun refuses to start anything on a hybrid cgroup host whose v2 hierarchy has controllers (this
// CI's: v1 controllers + hugetlb on /sys/fs/cgroup/unified), even with the cgroup manager disabled.
// baleen manages the cgroups itself, so crun runs in a private mount namespace without that mount.
bool must_hide_unified() {
  static const bool hide = [] {
    std::ifstream in(std::string(kUnified) + "/cgroup.controllers");
    std::string controllers;
    return static_cast<bool>(in >> controllers) && !controllers.empty();
  }();
  return hide;
}

// The child between fork and execve: system calls only (the parent may have threads).
[[noreturn]] void exec_child(const char* path, char* const* argv, const int stdio[3], int go,
                             bool hide_unified) {
  char byte;
  if (::read(go, &byte, 1) != 1) ::_exit(125);
  for (int i = 0; i < 3; ++i) {
    if (::dup2(stdio[i], i) < 0) ::_exit(125);
  }
  ::syscall(SYS_close_range, 3, UINT_MAX, 0);
  if (hide_unified &&
      (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
       ::umount2(kUnified, MNT_DETACH) != 0)) {
    ::_exit(125);
  }
  ::execve(path, argv, environ);
  ::_exit(127);
}

}  // namespace

std::string Crun::find(std::string* reason) {
  static const std::string path = [] {
    const char* env = std::getenv("PATH");
    std::string dirs = env != nullptr ? env : "/usr/bin:/bin";
    size_t start = 0;
    while (start <= dirs.size()) {
      size_t end = dirs.find(':', start);
      if (end == std::string::npos) end = dirs.size();
      std::string candidate = dirs.substr(start, end - start) + "/crun";
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
      start = end + 1;
    }
    return std::string();
  }();
  if (path.empty() && reason != nullptr) *reason = "crun is not installed (Debian package `crun`)";
  return path;
}

pid_t Crun::spawn(const Call& call) const {
  std::string reason;
  std::string path = find(&reason);
  check(!path.empty(), "{}", reason);
  std::vector<std::string> words = {path, "--root", state_root_, "--cgroup-manager=disabled"};
  words.insert(words.end(), call.args.begin(), call.args.end());
  std::vector<char*> argv;
  for (std::string& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  Fd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  check(static_cast<bool>(null), "cannot open /dev/null: {}", std::strerror(errno));
  int stdio[3];
  for (int i = 0; i < 3; ++i) stdio[i] = call.stdio[i] >= 0 ? call.stdio[i] : null.get();
  int go[2];
  check(::pipe2(go, O_CLOEXEC) == 0, "cannot create a pipe: {}", std::strerror(errno));
  Fd go_read(go[0]), go_write(go[1]);
  bool hide = must_hide_unified();
  pid_t pid = ::fork();
  if (pid == 0) exec_child(path.c_str(), argv.data(), stdio, go_read.get(), hide);
  check(pid > 0, "cannot fork crun: {}", std::strerror(errno));
  // The child waits until it is in the sandbox's cgroups, so everything crun starts is counted there.
  try {
    if (call.cgroup != nullptr) call.cgroup->add(pid);
  } catch (const Error&) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    throw;
  }
  char byte = 1;
  if (::write(go_write.get(), &byte, 1) != 1) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    fail("crun exited before it started");
  }
  return pid;
}

std::string Crun::run(const Call& call) const {
  // Files, not pipes: a container that crun starts inherits them, and must not hold a reader open.
  Fd out(::memfd_create("crun-stdout", MFD_CLOEXEC)), err(::memfd_create("crun-stderr", MFD_CLOEXEC));
  check(out && err, "cannot create memfds: {}", std::strerror(errno));
  Call captured = call;
  captured.stdio[1] = out.get();
  captured.stdio[2] = err.get();
  pid_t pid = spawn(captured);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  auto contents = [](int fd, const char* what) {
    ::lseek(fd, 0, SEEK_SET);
    return read_whole(fd, int64_t{1} << 20, what);
  };
  std::string errors = contents(err.get(), "crun's errors");
  while (!errors.empty() && errors.back() == '\n') errors.pop_back();
  check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "crun {} failed ({}): {}",
        call.args.empty() ? "" : call.args[0],
        WIFEXITED(status) ? fmt::format("exit {}", WEXITSTATUS(status)) : "killed", errors);
  return contents(out.get(), "crun's output");
}

}  // namespace baleen::sandbox
