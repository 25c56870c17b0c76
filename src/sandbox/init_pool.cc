#include "sandbox/init_pool.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/log.h"
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

void discard(StartedInit& init) {
  ::kill(init.pid, SIGKILL);
  while (::waitpid(init.pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  init.cgroup.remove();
}

class InitPool {
 public:
  StartedInit take(const Limits& limits) {
    if (owner_ != ::getpid()) return start_init_program(true);  // a forked copy: the inits are not ours
    std::deque<StartedInit> stale;
    StartedInit init;
    {
      std::unique_lock lock(mutex_);
      if (!started_) start_worker();
      ++takes_;
      if (controllers(limits) != controllers(limits_)) stale.swap(ready_);
      limits_ = limits;
      wanted_.notify_one();
      if (!ready_.empty()) {
        init = std::move(ready_.front());
        ready_.pop_front();
      }
    }
    for (StartedInit& old : stale) discard(old);
    return init.pid > 0 ? std::move(init) : start_init_program(true);
  }

  // At exit: the worker starts nothing more, and what it is starting finishes before the statics it
  // uses (init_program's path, the log) are destroyed. Its waiting inits die with it (PDEATHSIG).
  void stop() {
    if (owner_ != ::getpid()) return;  // a forked copy inherits the handler, not the worker
    std::unique_lock lock(mutex_);
    stopping_ = true;
    wanted_.notify_all();
    idle_.wait(lock, [this] { return !busy_; });
  }

 private:
  // Called under mutex_. init_program()'s static is made before the exit handler is registered, so
  // the handler runs before it is destroyed.
  void start_worker() {
    started_ = true;
    busy_ = true;
    init_program();
    std::atexit(stop_pool);
    std::thread([this] { refill(); }).detach();
  }

  // The inits' parent is this thread, which runs until stop(): their PR_SET_PDEATHSIG fires when it
  // returns or the process exits.
  void refill() {
    SandboxCgroup::remove_unused();
    for (;;) {
      Limits limits;
      {
        std::unique_lock lock(mutex_);
        busy_ = false;
        idle_.notify_all();
        // Never more ready than were asked for so far: a one-shot process (the CLI) starts at most one.
        wanted_.wait(lock, [this] { return stopping_ || ready_.size() < std::min(kPoolSize, takes_); });
        if (stopping_) return;
        limits = limits_;
        busy_ = true;
      }
      std::optional<StartedInit> init = start_in_cgroups(limits);
      if (!init) {
        std::lock_guard lock(mutex_);
        busy_ = false;
        idle_.notify_all();
        return;
      }
      bool fits;
      {
        std::lock_guard lock(mutex_);
        fits = controllers(limits) == controllers(limits_);  // else a take changed them meanwhile
        if (fits) ready_.push_back(std::move(*init));
      }
      if (!fits) discard(*init);
    }
  }

  // An init already in cgroups of limits' controllers (or in none, when joining fails); nullopt when
  // inits cannot start at all (sandboxes then start their own and report why).
  static std::optional<StartedInit> start_in_cgroups(const Limits& limits) {
    StartedInit init;
    try {
      init = start_init_program(true);
    } catch (const Error& e) {
      log::debug("sandbox init pool: {}; sandboxes start their own", e.what());
      return std::nullopt;
    }
    try {
      init.cgroup = SandboxCgroup::make(kCgroupPrefix + new_sandbox_id(), limits);
      init.cgroup.add(init.pid);
    } catch (const Error& e) {
      // E.g. a v1 CPU cgroup refusing a real-time task: the sandbox then makes and joins its own.
      log::debug("sandbox init pool: {}; this init joins no cgroup ahead", e.what());
      init.cgroup.remove();
      init.cgroup = SandboxCgroup();
    }
    return init;
  }

  static void stop_pool();

  std::mutex mutex_;
  std::condition_variable wanted_;
  std::condition_variable idle_;
  std::deque<StartedInit> ready_;
  Limits limits_;  // of the last take: pooled inits are in cgroups of its controllers
  size_t takes_ = 0;
  bool started_ = false;
  bool stopping_ = false;
  bool busy_ = false;  // the worker is starting an init (or sweeping stale cgroups)
  const pid_t owner_ = ::getpid();
};

InitPool& init_pool() {
  static auto* pool = new InitPool();  // never destroyed: stop() ends its worker at exit
  return *pool;
}

void InitPool::stop_pool() {
  init_pool().stop();
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

StartedInit take_pooled_init(const Limits& limits) {
  return init_pool().take(limits);
}

}  // namespace baleen::sandbox
