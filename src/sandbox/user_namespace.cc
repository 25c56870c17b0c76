#include "sandbox/user_namespace.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "core/error.h"
#include "sandbox/confined_path.h"

namespace baleen::sandbox {

namespace {

// The holder only keeps the namespace alive until its maps are written and a descriptor is open.
// It shares our memory (no page table copy), so it makes only a raw system call that cannot fail
// (all signals are blocked) and touches nothing of ours, not even errno.
int hold(void*) {
  for (;;) ::syscall(SYS_pause);
}

bool write_proc(pid_t pid, const char* file, const std::string& text) {
  Fd fd(::open(fmt::format("/proc/{}/{}", pid, file).c_str(), O_WRONLY | O_CLOEXEC));
  return fd && ::write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
}

Fd make_namespace(const IdMapping& mapping) {
  check(mapping.count > 0 && mapping.first > 0 && mapping.count <= UINT32_MAX - mapping.first,
        "user namespace: ids {}+{} must be a non-empty range of host ids above 0 (0 is host root)",
        mapping.first, mapping.count);
  std::vector<char> stack(16 * 1024);
  sigset_t all, previous;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &previous);
  pid_t pid = ::clone(hold, stack.data() + stack.size(), CLONE_VM | CLONE_NEWUSER | SIGCHLD, nullptr);
  int clone_error = errno;
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  check(pid > 0, "cannot create a user namespace for sandboxes: {} (is user.max_user_namespaces 0?)",
        std::strerror(clone_error));
  // setgroups must be denied before gid_map is written; the sandbox can then never drop a group to
  // get past a "deny this group" permission. Init drops its host groups before joining.
  std::string map = fmt::format("0 {} {}\n", mapping.first, mapping.count);
  bool ok = write_proc(pid, "setgroups", "deny") && write_proc(pid, "uid_map", map) &&
            write_proc(pid, "gid_map", map);
  int error = errno;
  Fd ns(::open(fmt::format("/proc/{}/ns/user", pid).c_str(), O_RDONLY | O_CLOEXEC));
  ::kill(pid, SIGKILL);
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  check(ok, "cannot write the id maps of the sandboxes' user namespace ({}): {}",
        map.substr(0, map.size() - 1), std::strerror(error));
  check(static_cast<bool>(ns), "cannot open the sandboxes' user namespace: {}", std::strerror(errno));
  return ns;
}

}  // namespace

int mapped_user_namespace(const IdMapping& mapping) {
  static std::mutex mutex;
  static auto* namespaces = new std::map<std::pair<uint32_t, uint32_t>, Fd>();  // never freed: see header
  std::lock_guard lock(mutex);
  Fd& ns = (*namespaces)[{mapping.first, mapping.count}];
  if (!ns) ns = make_namespace(mapping);
  return ns.get();
}

}  // namespace baleen::sandbox
