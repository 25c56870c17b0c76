#include "sandbox/sandbox_init.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/mount.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "sandbox/init_protocol.h"

namespace baleen::sandbox {

namespace proto = init_protocol;

namespace {

[[noreturn]] void report_and_exit(int channel, int32_t step) {
  InitStatus status{step, errno};
  (void)!::write(channel, &status, sizeof(status));
  ::_exit(1);
}

int64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

bool mount_dev(const InitPlan& plan) {
  if (::mount("tmpfs", plan.root_dev.c_str(), "tmpfs", MS_NOSUID | MS_NOEXEC, plan.dev_options.c_str()) !=
      0) {
    return false;
  }
  // 0666 whatever the umask: every user of the sandbox, not only its root, writes /dev/null. The
  // nodes stay the host root's (unmapped inside a user namespace): they are the host's devices.
  mode_t umask = ::umask(0);
  bool ok = true;
  for (size_t i = 0; ok && i < plan.dev_nodes.size(); ++i) {
    ok = ::mknod(plan.dev_nodes[i].c_str(), S_IFCHR | 0666, plan.dev_numbers[i]) == 0;
  }
  ::umask(umask);
  return ok;
}

// Brings up `lo` in the new network namespace: the sandbox's only network.
bool loopback_up() {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  ifreq request{};
  std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  bool ok = ::ioctl(fd, SIOCGIFFLAGS, &request) == 0;
  request.ifr_flags |= IFF_UP | IFF_RUNNING;
  ok = ok && ::ioctl(fd, SIOCSIFFLAGS, &request) == 0;
  ::close(fd);
  return ok;
}

// Replaces each image layer, in this mount namespace only, by a read-only idmapped copy of itself:
// host id N reads as the sandbox's N, so the image's root-owned files belong to the sandbox's root
// and copy-up keeps that. A bind of the layer (open_tree) is idmapped (mount_setattr) and moved
// over the layer's own path, which the overlay's lowerdir names.
bool idmap_in_place(const InitPlan& plan, const std::string& dir, bool read_only) {
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_IDMAP | (read_only ? MOUNT_ATTR_RDONLY : 0);
  attr.userns_fd = static_cast<uint64_t>(plan.userns_fd);
  int tree =
      static_cast<int>(::syscall(SYS_open_tree, AT_FDCWD, dir.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
  if (tree < 0) return false;
  bool ok = ::syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) == 0 &&
            ::syscall(SYS_move_mount, tree, "", AT_FDCWD, dir.c_str(),
                      MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_SYMLINKS) == 0;
  ::close(tree);
  return ok;
}

bool idmap_layers(const InitPlan& plan) {
  for (const std::string& layer : plan.lowers) {
    if (!idmap_in_place(plan, layer, true)) return false;
  }
  return true;
}

// The workspace at root_workspace (init_plan.h), idmapped like the layers in a user namespace so that
// the host's owners read as the sandbox's; a copy-on-write one writes to a layer on the tmpfs.
bool mount_workspace(const InitPlan& plan) {
  const bool copy_on_write = !plan.workspace_options.empty();
  if (plan.user_namespace && !idmap_in_place(plan, plan.workspace, copy_on_write)) return false;
  if (::mkdir(plan.root_workspace.c_str(), 0755) != 0 && errno != EEXIST) return false;
  if (!copy_on_write) {
    return ::mount(plan.workspace.c_str(), plan.root_workspace.c_str(), nullptr, MS_BIND, nullptr) == 0;
  }
  for (const std::string* dir : {&plan.workspace_upper, &plan.workspace_work}) {
    if (::mkdir(dir->c_str(), 0755) != 0) return false;
    if (plan.user_namespace && ::chown(dir->c_str(), plan.host_root_id, plan.host_root_id) != 0) return false;
  }
  return ::mount("overlay", plan.root_workspace.c_str(), "overlay", MS_NOSUID,
                 plan.workspace_options.c_str()) == 0;
}

// Builds the root filesystem and enters it; exits through report_and_exit on any failure. Returns a
// descriptor of the writable layer's tmpfs (upper/, and the workspace's layer), which stays reachable
// (for snapshots and workspace changes) through it only.
int build_root(const InitPlan& plan, int ready) {
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) report_and_exit(ready, kPrivate);
  if (plan.user_namespace && !idmap_layers(plan)) report_and_exit(ready, kIdmap);
  if (::mount("tmpfs", plan.mnt.c_str(), "tmpfs", MS_NOSUID, plan.tmpfs_options.c_str()) != 0) {
    report_and_exit(ready, kTmpfs);
  }
  for (const std::string* dir : {&plan.upper, &plan.work, &plan.root}) {
    if (::mkdir(dir->c_str(), 0755) != 0) report_and_exit(ready, kDirs);
  }
  // The upper directory is the sandbox's `/` and the layer it writes: its root's.
  if (plan.user_namespace) {
    for (const std::string* dir : {&plan.upper, &plan.work}) {
      if (::chown(dir->c_str(), plan.host_root_id, plan.host_root_id) != 0) report_and_exit(ready, kDirs);
    }
  }
  if (::mount("overlay", plan.root.c_str(), "overlay", MS_NOSUID, plan.overlay_options.c_str()) != 0) {
    report_and_exit(ready, kOverlay);
  }
  if (!plan.workspace.empty() && !mount_workspace(plan)) report_and_exit(ready, kWorkspace);
  int layer_fd = ::open(plan.mnt.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (layer_fd < 0) report_and_exit(ready, kFds);
  for (const std::string* dir : {&plan.root_proc, &plan.root_dev}) {
    if (::mkdir(dir->c_str(), 0755) != 0 && errno != EEXIST) report_and_exit(ready, kDirs);
  }
  if (::mount("proc", plan.root_proc.c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    report_and_exit(ready, kProc);
  }
  // /proc/sys writes reach the host's kernel settings: read-only inside.
  if (::mount(plan.root_proc_sys.c_str(), plan.root_proc_sys.c_str(), nullptr, MS_BIND | MS_REC, nullptr) !=
          0 ||
      ::mount(nullptr, plan.root_proc_sys.c_str(), nullptr,
              MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    report_and_exit(ready, kProcSys);
  }
  // Kernels without CONFIG_MAGIC_SYSRQ have no trigger to mask.
  if (::mount("/dev/null", plan.root_sysrq.c_str(), nullptr, MS_BIND, nullptr) != 0 && errno != ENOENT) {
    report_and_exit(ready, kSysrq);
  }
  if (!mount_dev(plan)) report_and_exit(ready, kDev);
  // pivot_root(".", ".") stacks the old root under the new one; detaching it leaves only the sandbox.
  if (::chdir(plan.root.c_str()) != 0 || ::syscall(SYS_pivot_root, ".", ".") != 0 ||
      ::umount2(".", MNT_DETACH) != 0 || ::chdir("/") != 0) {
    report_and_exit(ready, kPivot);
  }
  return layer_fd;
}

// The stack a command runs on between its clone and its execve (run_command needs ~5 KiB).
constexpr size_t kSpawnStackBytes = 64 * 1024;

// Request buffers, mapped by init itself so an idle sandbox holds only the pages it has touched.
struct Buffers {
  char* message = nullptr;      // init_protocol::kMaxMessageBytes
  char** argv = nullptr;        // kMaxStrings + 1
  char** envp = nullptr;        // kMaxStrings + 1
  char* spawn_stack = nullptr;  // kSpawnStackBytes; the top is the end
};

bool map_buffers(Buffers* buffers) {
  size_t pointers = (proto::kMaxStrings + 1) * sizeof(char*);
  size_t size = proto::kMaxMessageBytes + 2 * pointers + kSpawnStackBytes;
  void* memory = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return false;
  buffers->message = static_cast<char*>(memory);
  buffers->argv = reinterpret_cast<char**>(buffers->message + proto::kMaxMessageBytes);
  buffers->envp = reinterpret_cast<char**>(buffers->message + proto::kMaxMessageBytes + pointers);
  buffers->spawn_stack = buffers->message + proto::kMaxMessageBytes + 2 * pointers;
  return true;
}

struct Command {
  int stdio[3];
  int error_pipe;
  const proto::Header* header;
  char* const* argv;
  char* const* envp;
  const char* cwd;
};

// Searches PATH from the command's environment like execvp, with a stack buffer.
void exec_in_path(const Command& command) {
  const char* file = command.argv[0];
  if (std::strchr(file, '/') != nullptr) {
    ::execve(file, command.argv, command.envp);
    return;
  }
  const char* path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (char* const* env = command.envp; *env != nullptr; ++env) {
    if (std::strncmp(*env, "PATH=", 5) == 0) path = *env + 5;
  }
  char candidate[4096];
  int first_error = ENOENT;
  while (*path != '\0') {
    const char* end = std::strchr(path, ':');
    size_t length = end ? static_cast<size_t>(end - path) : std::strlen(path);
    size_t file_length = std::strlen(file);
    if (length + file_length + 2 <= sizeof(candidate)) {
      std::memcpy(candidate, path, length);
      candidate[length] = '/';
      std::memcpy(candidate + length + 1, file, file_length + 1);
      ::execve(candidate, command.argv, command.envp);
      if (errno != ENOENT && errno != ENOTDIR) first_error = errno;
    }
    path += length + (end ? 1 : 0);
  }
  errno = first_error;
}

[[noreturn]] void command_fail(int error_pipe, int32_t stage) {
  int32_t report[2] = {stage, errno};
  (void)!::write(error_pipe, report, sizeof(report));
  ::_exit(127);
}

// The forked command: stdio, session, limits, no capabilities, exec. The empty bounding set,
// no_new_privs and the seccomp filter it inherits from init (confine_commands).
[[noreturn]] void run_command(const Command& command) {
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::setsid();
  for (int i = 0; i < 3; ++i) {
    if (::dup2(command.stdio[i], i) < 0) command_fail(command.error_pipe, proto::kSetup);
  }
  if (::dup3(command.error_pipe, 3, O_CLOEXEC) < 0) command_fail(command.error_pipe, proto::kSetup);
  ::syscall(SYS_close_range, 4U, ~0U, 0U);
  const int error_pipe = 3;
  if (::chdir(command.cwd) != 0) command_fail(error_pipe, proto::kChdir);
  rlimit zero{0, 0};
  ::setrlimit(RLIMIT_CORE, &zero);
  if (command.header->rlimit_as > 0) {
    rlimit as{static_cast<rlim_t>(command.header->rlimit_as), static_cast<rlim_t>(command.header->rlimit_as)};
    ::setrlimit(RLIMIT_AS, &as);
  }
  // Init's capabilities (inherited, and no ambient ones: init's inheritable set is empty) go.
  __user_cap_header_struct cap_header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct cap_data[2] = {};
  if (::syscall(SYS_capset, &cap_header, cap_data) != 0) command_fail(error_pipe, proto::kSetup);
  exec_in_path(command);
  command_fail(error_pipe, proto::kExecve);
}

int command_main(void* command) {
  const auto* c = static_cast<const Command*>(command);
  run_command(*c);
}

// Reaps every exited child; returns true once `command_pid` is among them.
bool reap(pid_t command_pid, int* status, rusage* usage) {
  bool done = false;
  for (;;) {
    int child_status = 0;
    rusage child_usage{};
    pid_t pid = ::wait4(-1, &child_status, WNOHANG, &child_usage);
    if (pid <= 0) return done;
    if (pid == command_pid) {
      *status = child_status;
      *usage = child_usage;
      done = true;
    }
  }
}

void drain(int signal_fd) {
  signalfd_siginfo info[8];
  while (::read(signal_fd, info, sizeof(info)) > 0) {
  }
}

// Parses an exec request's blob into buffers.argv / buffers.envp; false when malformed.
bool parse_exec(Buffers& buffers, const proto::Header& header, char* blob, Command* command) {
  if (header.argc == 0 || header.argc > proto::kMaxStrings || header.envc > proto::kMaxStrings) return false;
  char* cursor = blob;
  char* end = blob + header.blob_bytes;
  auto next = [&]() -> char* {
    char* string = cursor;
    char* nul = static_cast<char*>(std::memchr(cursor, '\0', static_cast<size_t>(end - cursor)));
    if (nul == nullptr) return nullptr;
    cursor = nul + 1;
    return string;
  };
  for (uint32_t i = 0; i < header.argc; ++i) {
    if ((buffers.argv[i] = next()) == nullptr) return false;
  }
  buffers.argv[header.argc] = nullptr;
  for (uint32_t i = 0; i < header.envc; ++i) {
    if ((buffers.envp[i] = next()) == nullptr) return false;
  }
  buffers.envp[header.envc] = nullptr;
  command->cwd = next();
  command->argv = buffers.argv;
  command->envp = buffers.envp;
  command->header = &header;
  return command->cwd != nullptr;
}

// Runs one command to its end (or timeout, or the client hanging up) and fills the reply.
void execute(const Buffers& buffers, Command& command, int connection, int signal_fd,
             proto::ExecReply* reply) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    reply->stage = proto::kSetup;
    reply->error = errno;
    return;
  }
  command.error_pipe = pipe_fds[1];
  int64_t start = now_ns();
  // posix_spawn's trick: the child borrows init's memory (CLONE_VM) on its own stack and init waits
  // (CLONE_VFORK) until it has called execve or exited, so no page table is copied. The child has
  // its own descriptors, rlimits, credentials and seccomp state, so nothing it sets reaches init;
  // init installs no signal handler (and starts with none), so none can run in the child.
  pid_t pid = ::clone(command_main, buffers.spawn_stack + kSpawnStackBytes, CLONE_VM | CLONE_VFORK | SIGCHLD,
                      &command);
  ::close(pipe_fds[1]);
  for (int fd : command.stdio) ::close(fd);
  if (pid < 0) {
    reply->stage = proto::kSetup;
    reply->error = errno;
    ::close(pipe_fds[0]);
    return;
  }
  int32_t failure[2] = {0, 0};
  ssize_t got;
  do {
    got = ::read(pipe_fds[0], failure, sizeof(failure));
  } while (got < 0 && errno == EINTR);
  ::close(pipe_fds[0]);
  if (got == static_cast<ssize_t>(sizeof(failure))) {
    reply->stage = failure[0];
    reply->error = failure[1];
  }
  int64_t deadline = start + command.header->timeout_ms * 1'000'000;
  int status = 0;
  rusage usage{};
  while (!reap(pid, &status, &usage)) {
    int64_t left_ms = (deadline - now_ns()) / 1'000'000;
    if (!reply->timed_out && command.header->timeout_ms > 0 && left_ms <= 0) {
      ::kill(-1, SIGKILL);  // from pid 1: every process of the sandbox but init
      reply->timed_out = 1;
      continue;
    }
    pollfd fds[2] = {{signal_fd, POLLIN, 0}, {connection, POLLIN, 0}};
    int timeout = reply->timed_out || command.header->timeout_ms <= 0 ? -1 : static_cast<int>(left_ms + 1);
    if (::poll(fds, 2, timeout) < 0) continue;
    if (fds[0].revents) drain(signal_fd);
    if (fds[1].revents) ::kill(-1, SIGKILL);  // the client hung up or asked to cancel
  }
  reply->wait_status = status;
  reply->wall_ns = now_ns() - start;
  reply->user_us = int64_t{usage.ru_utime.tv_sec} * 1'000'000 + usage.ru_utime.tv_usec;
  reply->system_us = int64_t{usage.ru_stime.tv_sec} * 1'000'000 + usage.ru_stime.tv_usec;
  reply->max_rss_kb = usage.ru_maxrss;
}

void send_reply(int connection, const void* data, size_t size, int fd_to_pass) {
  iovec io{const_cast<void*>(data), size};
  msghdr message{};
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (fd_to_pass >= 0) {
    message.msg_control = control;
    message.msg_controllen = sizeof(control);
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(header), &fd_to_pass, sizeof(int));
  }
  (void)::sendmsg(connection, &message, MSG_NOSIGNAL);
}

// Serves the requests of one connection until the client closes it.
void serve(Buffers& buffers, int connection, int signal_fd, int layer_fd) {
  for (;;) {
    int fds[3] = {-1, -1, -1};
    size_t fd_count = 0;
    ssize_t got = proto::receive_message(connection, buffers.message, proto::kMaxMessageBytes, fds, 3,
                                         &fd_count, nullptr);
    if (got < static_cast<ssize_t>(sizeof(proto::Header))) {
      for (size_t i = 0; i < fd_count; ++i) ::close(fds[i]);
      return;
    }
    const auto* header = reinterpret_cast<const proto::Header*>(buffers.message);
    proto::Reply ok{0};
    if (header->op == proto::kExec) {
      proto::ExecReply reply{};
      Command command{};
      bool valid = fd_count == 3 && header->blob_bytes == got - static_cast<ssize_t>(sizeof(proto::Header)) &&
                   parse_exec(buffers, *header, buffers.message + sizeof(proto::Header), &command);
      if (valid) {
        std::memcpy(command.stdio, fds, sizeof(fds));
        execute(buffers, command, connection, signal_fd, &reply);
      } else {
        for (int fd : fds) {
          if (fd >= 0) ::close(fd);
        }
        reply.stage = proto::kSetup;
        reply.error = EINVAL;
      }
      send_reply(connection, &reply, sizeof(reply), -1);
    } else if (header->op == proto::kRootDir || header->op == proto::kLayerDir) {
      int dir = header->op == proto::kRootDir ? ::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC) : layer_fd;
      send_reply(connection, &ok, sizeof(ok), dir);
      if (header->op == proto::kRootDir && dir >= 0) ::close(dir);
    } else if (header->op == proto::kShutdown) {
      ::kill(-1, SIGKILL);
      send_reply(connection, &ok, sizeof(ok), -1);
      ::_exit(0);
    } else {
      send_reply(connection, &ok, sizeof(ok), -1);
    }
  }
}

// Points stdio at /dev/null and closes every other descriptor inherited from the creator (its
// terminal, its pipes) but the channel, so a persistent sandbox holds nothing of the process that
// made it.
bool isolate_descriptors(int channel) {
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0) return false;
  for (int fd = 0; fd < 3; ++fd) {
    if (null_fd != fd && ::dup2(null_fd, fd) < 0) return false;
  }
  if (channel > 3) ::syscall(SYS_close_range, 3U, static_cast<unsigned>(channel - 1), 0U);
  ::syscall(SYS_close_range, static_cast<unsigned>(std::max(channel, 2)) + 1, ~0U, 0U);
  return true;
}

// Waits for the plan (in the pool, until a sandbox is created) and the descriptors that come with it.
bool receive_plan(int channel, InitPlan* plan) {
  static char bytes[64 * 1024];
  int fds[2] = {-1, -1};
  size_t count = 0;
  int flags = 0;
  ssize_t got = proto::receive_message(channel, bytes, sizeof(bytes), fds, 2, &count, &flags);
  if (got <= 0) ::_exit(0);  // the creator let go of this init without a sandbox
  errno = EPROTO;
  if ((flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 ||
      !decode_init_plan(std::string_view(bytes, static_cast<size_t>(got)), plan) ||
      count != (plan->user_namespace ? 2U : 1U)) {
    return false;
  }
  plan->listen_fd = fds[0];
  plan->userns_fd = fds[1];
  return true;
}

// Everything that needs the host's privileges is done: init becomes the sandbox's root, a host user
// without privilege (uid and gid host_root_id, no groups, capabilities only inside the namespace).
void join_user_namespace(const InitPlan& plan, int channel) {
  if (::setgroups(0, nullptr) != 0 || ::setns(plan.userns_fd, CLONE_NEWUSER) != 0 ||
      ::setresgid(0, 0, 0) != 0 || ::setresuid(0, 0, 0) != 0) {
    report_and_exit(channel, kUserns);
  }
  ::close(plan.userns_fd);
  // The uid change cleared the parent-death signal; and init must stay non-dumpable, so commands
  // (same uid) can never open its /proc/1/mem or its descriptors.
  if (plan.die_with_parent) ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

// What every command inherits, set once here instead of per command (clone and execve keep all
// three): an empty capability bounding set, no_new_privs and the seccomp filter. Init needs none of
// the calls the filter refuses once its setup is done.
bool confine_commands(const InitPlan& plan) {
  for (int cap = 0; cap <= plan.cap_last; ++cap) {
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) return false;
  }
  sock_fprog program{static_cast<unsigned short>(plan.seccomp.size()),
                     const_cast<sock_filter*>(plan.seccomp.data())};
  return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program, 0, 0) == 0;
}

}  // namespace

void run_sandbox_init(int channel, bool own_network) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (!isolate_descriptors(channel)) report_and_exit(channel, kFds);
  // Everything up to here is the same for every sandbox, so a pooled init has done it in advance.
  bool loopback = !own_network || loopback_up();
  InitPlan plan;
  if (!receive_plan(channel, &plan)) report_and_exit(channel, kPlan);
  if (!plan.die_with_parent) ::prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
  if (!loopback) report_and_exit(channel, kLoopback);
  int layer_fd = build_root(plan, channel);
  ::syscall(SYS_sethostname, "sandbox", 7);
  if (plan.user_namespace) join_user_namespace(plan, channel);
  if (!confine_commands(plan)) report_and_exit(channel, kConfine);
  sigset_t child;
  sigemptyset(&child);
  sigaddset(&child, SIGCHLD);
  if (::sigprocmask(SIG_BLOCK, &child, nullptr) != 0) report_and_exit(channel, kSignals);
  int signal_fd = ::signalfd(-1, &child, SFD_NONBLOCK | SFD_CLOEXEC);
  Buffers buffers;
  if (signal_fd < 0 || !map_buffers(&buffers)) report_and_exit(channel, kFds);
  InitStatus status{kReady, 0};
  (void)!::write(channel, &status, sizeof(status));
  // The creator's go says init is in the sandbox's cgroups; without it (the creator failed) no
  // command may run.
  char go = 0;
  if (::read(channel, &go, 1) != 1) ::_exit(1);
  ::close(channel);
  for (;;) {
    pollfd fds[2] = {{plan.listen_fd, POLLIN, 0}, {signal_fd, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents) {
      drain(signal_fd);
      int status_ignored = 0;
      rusage usage{};
      reap(-1, &status_ignored, &usage);
    }
    if (fds[0].revents) {
      int connection = ::accept4(plan.listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (connection < 0) continue;
      serve(buffers, connection, signal_fd, layer_fd);
      ::close(connection);
    }
  }
}

}  // namespace baleen::sandbox
