#include "sandbox/init_pool.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <vector>

#include "core/error.h"
#include "core/log.h"
#include "sandbox/ahead_pool.h"
#include "sandbox/init_plan.h"
#include "sandbox/sandbox_state.h"

namespace baleen::sandbox {

namespace {

namespace fs = std::filesystem;

// Enough for a burst of creations; each waiting init holds ~100 KiB of memory and a network namespace.
constexpr size_t kPoolSize = 4;

// What the spawned child needs; it shares our memory until execve, so it only reads this and
// writes `exec_error`.
struct Spawn {
  const char* program;
  char* const* argv;
  int inherit;  // the descriptor init keeps across execve
  int exec_error = 0;
};

int spawn_child(void* arg) {
  auto* spawn = static_cast<Spawn*>(arg);
  // Our handlers must not run on the memory we share, and none, nor any ignored signal, may reach
  // init or its commands.
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &default_action, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::fcntl(spawn->inherit, F_SETFD, 0);  // our descriptor table is a copy: the creator's keeps CLOEXEC
  char* const empty_env[] = {nullptr};
  ::execve(spawn->program, spawn->argv, empty_env);
  spawn->exec_error = errno;
  ::_exit(127);
}

// Names of pooled cgroups (…/baleen/pool-<random>); the pool removes empty cgroups when it starts.
constexpr const char* kCgroupPrefix = "pool-";

// Which cgroup controllers a sandbox with `limits` uses: pooled cgroups fit sandboxes alike in this.
unsigned controllers(const Limits& limits) {
  return (limits.memory_bytes > 0 ? 1U : 0U) | (limits.pids > 0 ? 2U : 0U) | (limits.cpus > 0 ? 4U : 0U);
}

// What pooled inits are made for: the cgroup controllers, and the limits to make their cgroups with.
struct CgroupKind {
  Limits limits;
  bool operator==(const CgroupKind& other) const { return same_cgroup_controllers(limits, other.limits); }
};

// An init already in cgroups of the kind's controllers (or in none, when joining fails); nullopt when
// inits cannot start at all (sandboxes then start their own and report why).
std::optional<StartedInit> start_in_cgroups(const CgroupKind& kind) {
  static std::once_flag swept;
  std::call_once(swept, [] { SandboxCgroup::remove_unused(); });
  StartedInit init;
  try {
    init = start_init_program(true);
  } catch (const Error& e) {
    log::debug("sandbox init pool: {}; sandboxes start their own", e.what());
    return std::nullopt;
  }
  try {
    init.cgroup = SandboxCgroup::make(kCgroupPrefix + new_sandbox_id(), kind.limits);
    init.cgroup.add(init.pid);
  } catch (const Error& e) {
    // E.g. a v1 CPU cgroup refusing a real-time task: the sandbox then makes and joins its own.
    log::debug("sandbox init pool: {}; this init joins no cgroup ahead", e.what());
    init.cgroup.remove();
    init.cgroup = SandboxCgroup();
  }
  return init;
}

void discard(StartedInit& init) {
  ::kill(init.pid, SIGKILL);
  while (::waitpid(init.pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  init.cgroup.remove_later();  // init is reaped: its cgroups empty within a grace period
}

AheadPool<CgroupKind, StartedInit>& init_pool() {
  static auto* pool = [] {
    init_program();  // its static outlives the pool's exit handler, registered after it
    return new AheadPool<CgroupKind, StartedInit>(kPoolSize, kAheadQuiet, &start_in_cgroups, &discard);
  }();  // never destroyed: stop_at_exit ends its worker
  return *pool;
}

}  // namespace

const std::string& init_program() {
  static const std::string path = [] {
    if (const char* chosen = std::getenv("BALEEN_SANDBOX_INIT")) return std::string(chosen);
    std::error_code error;
    fs::path beside = fs::read_symlink("/proc/self/exe", error).parent_path() / "baleen-sandbox-init";
    if (!error && fs::exists(beside)) return beside.string();
    return fs::exists(BALEEN_SANDBOX_INIT_PATH) ? std::string(BALEEN_SANDBOX_INIT_PATH) : std::string();
  }();
  return path;
}

// posix_spawn-style (CLONE_VM | CLONE_VFORK, then execve of baleen-sandbox-init): no page table of
// this process is copied and none of its pages become copy-on-write, which fork would make cost in
// proportion to our memory (an engine's is large).
StartedInit start_init_program(bool own_network) {
  int pair[2];
  bool ok = ::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) == 0;
  check(ok, "cannot create the sandbox init's channel: {}", std::strerror(errno));
  Fd ours(pair[0]), theirs(pair[1]);
  const std::string& program = init_program();
  std::string channel = std::to_string(theirs.get());
  // argv[0] without the host path: the sandbox sees init's command line in /proc/1/cmdline.
  char name[] = "baleen-sandbox-init";
  char network[] = "own-network", shared[] = "host-network";
  char* argv[] = {name, channel.data(), own_network ? network : shared, nullptr};
  Spawn spawn{program.c_str(), argv, theirs.get()};
  std::vector<char> stack(64 * 1024);
  int flags = CLONE_VM | CLONE_VFORK | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | SIGCHLD;
  if (own_network) flags |= CLONE_NEWNET;
  sigset_t all, previous;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &previous);
  pid_t pid = ::clone(spawn_child, stack.data() + stack.size(), flags, &spawn);
  int clone_error = errno;
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  check(pid > 0, "cannot clone the sandbox's init: {}", std::strerror(clone_error));
  if (spawn.exec_error != 0) {
    ::waitpid(pid, nullptr, 0);
    fail("cannot start the process sandbox: {} '{}': {}", init_step_name(kStartProgram), program,
         std::strerror(spawn.exec_error));
  }
  // Init is the one process the OOM killer must spare: it holds the sandbox together. (Lowering
  // the score needs CAP_SYS_RESOURCE; without it init stays an ordinary candidate.)
  std::ofstream(fmt::format("/proc/{}/oom_score_adj", pid)) << "-1000";
  return {pid, std::move(ours), SandboxCgroup()};
}

bool same_cgroup_controllers(const Limits& a, const Limits& b) {
  return controllers(a) == controllers(b);
}

StartedInit take_pooled_init(const Limits& limits) {
  std::optional<StartedInit> init = init_pool().take(CgroupKind{limits});
  return init ? std::move(*init) : start_init_program(true);
}

}  // namespace baleen::sandbox
