#include "sandbox/process_sandbox.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/log.h"
#include "sandbox/cgroup.h"
#include "sandbox/exec_command.h"
#include "sandbox/image.h"
#include "sandbox/init_plan.h"
#include "sandbox/init_pool.h"
#include "sandbox/init_protocol.h"
#include "sandbox/layered_sandbox.h"
#include "sandbox/output_capture.h"
#include "sandbox/sandbox_state.h"
#include "sandbox/seccomp_filter.h"
#include "sandbox/user_namespace.h"
#include "sandbox/writable_layer.h"

namespace baleen::sandbox {

namespace proto = init_protocol;
namespace fs = std::filesystem;

namespace {

sockaddr_un socket_address(const std::string& state_dir) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::string path = state_dir + "/control.sock";
  check(path.size() < sizeof(address.sun_path),
        "sandbox state path '{}' is longer than a unix socket allows ({})", path,
        sizeof(address.sun_path) - 1);
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  return address;
}

Fd listen_socket(const std::string& state_dir) {
  sockaddr_un address = socket_address(state_dir);
  Fd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  check(static_cast<bool>(fd), "cannot create the control socket: {}", std::strerror(errno));
  bool ok = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  check(ok, "cannot bind the control socket {}: {}", address.sun_path, std::strerror(errno));
  ok = ::listen(fd.get(), 64) == 0;
  check(ok, "cannot listen on {}: {}", address.sun_path, std::strerror(errno));
  return fd;
}

void send_message(int fd, const std::vector<char>& data, const std::vector<int>& fds) {
  iovec io{const_cast<char*>(data.data()), data.size()};
  msghdr message{};
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
  if (!fds.empty()) {
    message.msg_control = control.data();
    message.msg_controllen = control.size();
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(header), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t sent;
  do {
    sent = ::sendmsg(fd, &message, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  check(sent == static_cast<ssize_t>(data.size()), "cannot send to the sandbox's init: {}",
        std::strerror(errno));
}

// Receives one reply of exactly `size` bytes, and the descriptor passed with it if any.
void receive_reply(int fd, void* reply, size_t size, Fd* passed) {
  int received = -1;
  size_t count = 0;
  ssize_t got = proto::receive_message(fd, reply, size, &received, 1, &count, nullptr);
  Fd owned(count == 1 ? received : -1);
  check(got == static_cast<ssize_t>(size), "the sandbox's init did not reply (got {} bytes): it has exited",
        got);
  if (passed != nullptr) *passed = std::move(owned);
}

std::vector<char> header_message(uint32_t op) {
  std::vector<char> data(sizeof(proto::Header));
  proto::Header header{};
  header.op = op;
  std::memcpy(data.data(), &header, sizeof(header));
  return data;
}

// Everything init needs, prepared here because init cannot allocate.
InitPlan make_plan(const Image& image, const SandboxSpec& spec, const std::string& state_dir) {
  InitPlan plan;
  WritableLayer layer = WritableLayer::plan(image, spec.limits.disk_bytes, state_dir + "/mnt");
  plan.mnt = layer.mnt;
  plan.tmpfs_options = layer.tmpfs_options;
  plan.upper = layer.upper;
  plan.work = layer.work;
  plan.root = layer.root;
  plan.overlay_options = layer.overlay_options;
  plan.lowers = image.layers;
  plan.dev_options = "size=64k,mode=0755";
  if (spec.user_namespace) {
    plan.user_namespace = true;
    plan.userns_fd = mapped_user_namespace(*spec.user_namespace);
    plan.host_root_id = spec.user_namespace->first;
    plan.dev_options += fmt::format(",uid={0},gid={0}", plan.host_root_id);
  }
  plan.root_proc = plan.root + "/proc";
  plan.root_proc_sys = plan.root_proc + "/sys";
  plan.root_sysrq = plan.root_proc + "/sysrq-trigger";
  plan.root_dev = plan.root + "/dev";
  const std::pair<const char*, unsigned> nodes[] = {{"null", makedev(1, 3)},    {"zero", makedev(1, 5)},
                                                    {"full", makedev(1, 7)},    {"random", makedev(1, 8)},
                                                    {"urandom", makedev(1, 9)}, {"tty", makedev(5, 0)}};
  for (const auto& [name, number] : nodes) {
    plan.dev_nodes.push_back(plan.root_dev + "/" + name);
    plan.dev_numbers.push_back(number);
  }
  if (spec.workspace) {
    plan.workspace = fs::absolute(spec.workspace->dir).lexically_normal().string();
    plan.root_workspace = plan.root + kWorkspaceMount;
    if (spec.workspace->mode == WorkspaceMode::kCopyOnWrite) {
      plan.workspace_upper = plan.mnt + "/workspace-upper";
      plan.workspace_work = plan.mnt + "/workspace-work";
      plan.workspace_options = fmt::format("lowerdir={},upperdir={},workdir={}", plan.workspace,
                                           plan.workspace_upper, plan.workspace_work);
    }
  }
  plan.die_with_parent = !spec.persist;
  // Both are fixed for the life of the host process; computing them once saves ~0.2 ms a sandbox.
  static const std::vector<sock_filter> seccomp = sandbox_seccomp_program();
  static const int cap_last = [] {
    int value = 63;
    std::ifstream("/proc/sys/kernel/cap_last_cap") >> value;
    return value;
  }();
  plan.seccomp = seccomp;
  plan.cap_last = cap_last;
  return plan;
}

// Hands a started init its plan with the control socket and the user namespace; init builds the
// root while the creator sets the cgroup limits (a pooled init is in its cgroups already; else they
// are made and init joins them) and writes the state. `await_ready` then waits for init and lets it
// serve: no command can run before init is in its limited cgroups. (Setup's own kernel memory may
// be charged to the creator's cgroup.)
class InitHandover {
 public:
  InitHandover(const InitPlan& plan, const Limits& limits, bool own_network)
      : init_(own_network ? take_pooled_init(limits) : start_init_program(false)) {
    try {
      std::vector<int> fds{plan.listen_fd};
      if (plan.user_namespace) fds.push_back(plan.userns_fd);
      std::string encoded = encode_init_plan(plan);
      send_message(init_.channel.get(), std::vector<char>(encoded.begin(), encoded.end()), fds);
    } catch (const Error& e) {
      kill_init();  // no destructor runs for a constructor that throws
      abandon(e.what());
    }
  }
  InitHandover(const InitHandover&) = delete;
  InitHandover& operator=(const InitHandover&) = delete;
  // An init that never became ready is killed.
  ~InitHandover() {
    if (!ready_) kill_init();
  }

  pid_t pid() const { return init_.pid; }

  // The sandbox's cgroups, limited, with init in them.
  SandboxCgroup cgroup(const std::string& id, const Limits& limits) {
    bool pooled = !init_.cgroup.dirs().empty();
    SandboxCgroup cgroup = pooled ? std::move(init_.cgroup) : SandboxCgroup::create(id, limits);
    try {
      if (pooled) {
        cgroup.limit(limits);
      } else {
        cgroup.add(init_.pid);
      }
    } catch (...) {
      kill_init();
      ready_ = true;  // nothing left to kill
      cgroup.remove();
      throw;
    }
    return cgroup;
  }

  void await_ready() {
    InitStatus status{-1, 0};
    ssize_t got;
    do {
      got = ::read(init_.channel.get(), &status, sizeof(status));
    } while (got < 0 && errno == EINTR);
    if (got != static_cast<ssize_t>(sizeof(status))) abandon("init exited during setup");
    if (status.step != 0) {
      const char* hint =
          status.step == kIdmap
              ? " (the image's filesystem must support idmapped mounts, and overlayfs idmapped "
                "layers need Linux >= 5.19; or create the sandbox without a user namespace)"
              : "";
      abandon(fmt::format("init failed while {}: {}{}", init_step_name(status.step),
                          std::strerror(status.error), hint));
    }
    char go = 1;
    if (::write(init_.channel.get(), &go, 1) != 1) abandon("init exited after setup");
    init_.channel = Fd();
    ready_ = true;
  }

 private:
  [[noreturn]] static void abandon(const std::string& why) {
    fail("cannot start the process sandbox: {}", why);
  }
  void kill_init() {
    ::kill(init_.pid, SIGKILL);
    while (::waitpid(init_.pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  }

  StartedInit init_;
  bool ready_ = false;
};

// One sandbox: a handle on its init (the control socket) and its cgroups. This file's alone, so its
// members are public to the create and attach functions below.
class ProcessSandbox final : public LayeredSandbox {
 public:
  ProcessSandbox() : LayeredSandbox("process") {}
  ~ProcessSandbox() override { destroy_unless_persisted(); }
  ExecResult exec(const ExecRequest& request) override;
  void destroy() override;
  Fd connect() const;
  Fd request_dir(uint32_t op) const;

  pid_t init_pid_ = -1;
  bool own_child_ = false;  // init is our child: reap it, and kill it when destroyed

 protected:
  Fd open_dir(Dir dir) const override {
    return request_dir(dir == Dir::kRoot ? proto::kRootDir : proto::kLayerDir);
  }
};

bool available(std::string* reason) {
  auto no = [&](const char* why) {
    if (reason != nullptr) *reason = why;
    return false;
  };
  if (::geteuid() != 0) return no("the process substrate needs root (mount and pid namespaces, overlayfs)");
  if (init_program().empty()) {
    return no(
        "baleen-sandbox-init was not found (beside this program, in the build, or $BALEEN_SANDBOX_INIT)");
  }
  // The kernel's features do not change while we run: probed once.
  static const char* const kernel_lacks = []() -> const char* {
    std::ifstream filesystems("/proc/filesystems");
    std::string text((std::istreambuf_iterator<char>(filesystems)), std::istreambuf_iterator<char>());
    if (text.find("overlay") == std::string::npos) return "the kernel has no overlayfs";
    if (!fs::exists("/proc/self/ns/pid") || !fs::exists("/proc/self/ns/net")) return "no namespace support";
    return nullptr;
  }();
  return kernel_lacks == nullptr || no(kernel_lacks);
}

std::unique_ptr<Sandbox> create(const SandboxSpec& spec) {
  auto sandbox = std::make_unique<ProcessSandbox>();
  sandbox->start_new(&available, spec);
  const std::string& state_dir = sandbox->state_dir();
  try {
    Image image = Image::open(spec.image);
    sandbox->image_dir_ = image.dir;
    sandbox->ids_ = spec.user_namespace;
    fs::create_directories(state_dir + "/mnt");
    Fd listener = listen_socket(state_dir);
    InitPlan plan = make_plan(image, spec, state_dir);
    plan.listen_fd = listener.get();
    InitHandover init(plan, spec.limits, !spec.limits.network);
    // All of this runs while init builds the root (on another CPU when there is one).
    sandbox->cgroup_ = init.cgroup(sandbox->id(), spec.limits);
    sandbox->init_pid_ = init.pid();
    sandbox->save_layers_state(image, {{"init_pid", sandbox->init_pid_}});
    init.await_ready();
    sandbox->own_child_ = true;
  } catch (...) {
    sandbox->abandon();
    throw;
  }
  return sandbox;
}

std::unique_ptr<Sandbox> attach(const std::string& state_dir) {
  auto sandbox = std::make_unique<ProcessSandbox>();
  sandbox->init_pid_ = sandbox->attach_layers(state_dir).at("init_pid");
  return sandbox;
}

bool alive(const std::string& state_dir) {
  sockaddr_un address = socket_address(fs::absolute(state_dir).string());
  Fd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  return fd && ::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
}

}  // namespace

const Substrate& process_substrate() {
  static const Substrate row{"process", &create, &attach, &available, &alive};
  return row;
}

Fd ProcessSandbox::connect() const {
  check_not_destroyed();
  sockaddr_un address = socket_address(state_dir_);
  Fd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  check(static_cast<bool>(fd), "cannot create a socket: {}", std::strerror(errno));
  bool ok = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  check(ok, "sandbox {} does not answer at {}: {}", id_, address.sun_path, std::strerror(errno));
  return fd;
}

Fd ProcessSandbox::request_dir(uint32_t op) const {
  Fd connection = connect();
  send_message(connection.get(), header_message(op), {});
  proto::Reply reply{};
  Fd dir;
  receive_reply(connection.get(), &reply, sizeof(reply), &dir);
  check(static_cast<bool>(dir), "sandbox {}: init passed no directory", id_);
  return dir;
}

ExecResult ProcessSandbox::exec(const ExecRequest& request) {
  const ExecCommand command = exec_command(request, limits_, working_dir());
  const std::vector<std::string>& argv = command.argv;
  const std::vector<std::string>& env = command.env;
  check(argv.size() <= proto::kMaxStrings && env.size() <= proto::kMaxStrings, "exec: more than {} arguments",
        proto::kMaxStrings);
  proto::Header header{};
  header.op = proto::kExec;
  header.argc = static_cast<uint32_t>(argv.size());
  header.envc = static_cast<uint32_t>(env.size());
  header.timeout_ms = command.timeout.count();
  header.rlimit_as = cgroup_.limits_memory() ? 0 : limits_.memory_bytes;
  std::vector<char> message(sizeof(header));
  for (const auto* list : {&argv, &env}) {
    for (const std::string& s : *list) message.insert(message.end(), s.c_str(), s.c_str() + s.size() + 1);
  }
  message.insert(message.end(), command.cwd.c_str(), command.cwd.c_str() + command.cwd.size() + 1);
  check(message.size() <= proto::kMaxMessageBytes,
        "exec: the command line is {} bytes; the limit is {} "
        "(write a script with write_file instead)",
        message.size(), proto::kMaxMessageBytes);
  header.blob_bytes = static_cast<uint32_t>(message.size() - sizeof(header));
  std::memcpy(message.data(), &header, sizeof(header));

  Fd connection = connect();
  CommandPipes pipes = CommandPipes::open();
  send_message(connection.get(), message,
               {pipes.stdin_read.get(), pipes.stdout_write.get(), pipes.stderr_write.get()});
  pipes.stdin_read = Fd();
  pipes.stdout_write = Fd();
  pipes.stderr_write = Fd();
  CapturedOutput output = pump_until_reply(pipes, request.stdin_data, connection.get(), limits_.output_bytes);
  proto::ExecReply reply{};
  receive_reply(connection.get(), &reply, sizeof(reply), nullptr);

  ExecResult result;
  result.stdout_data = std::move(output.stdout_data);
  result.stderr_data = std::move(output.stderr_data);
  result.stdout_truncated = output.stdout_truncated;
  result.stderr_truncated = output.stderr_truncated;
  result.timed_out = reply.timed_out != 0;
  result.wall_seconds = static_cast<double>(reply.wall_ns) * 1e-9;
  result.cpu_seconds = static_cast<double>(reply.user_us + reply.system_us) * 1e-6;
  result.peak_memory_bytes = reply.max_rss_kb * 1024;
  if (reply.stage != proto::kRan) {
    const char* what = reply.stage == proto::kChdir ? "cannot enter directory" : "cannot run";
    std::string subject = reply.stage == proto::kChdir ? command.cwd : argv[0];
    result.stderr_data +=
        fmt::format("baleen sandbox: {} '{}': {}\n", what, subject, std::strerror(reply.error));
    result.exit_code = reply.stage == proto::kExecve && reply.error == ENOENT ? 127 : 126;
  } else if (WIFSIGNALED(reply.wait_status)) {
    result.signal = WTERMSIG(reply.wait_status);
  } else {
    result.exit_code = WEXITSTATUS(reply.wait_status);
  }
  return result;
}

void ProcessSandbox::destroy() {
  if (!begin_destroy()) return;
  if (own_child_) {
    // Killing a pid namespace's init kills every process in it; waitpid returns once all are gone.
    ::kill(init_pid_, SIGKILL);
    while (::waitpid(init_pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
    cgroup_.remove_later();  // every process is gone: nothing the rmdir waits for concerns us
  } else if (alive(state_dir_)) {
    try {
      sockaddr_un address = socket_address(state_dir_);
      Fd connection(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
      if (::connect(connection.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
        send_message(connection.get(), header_message(proto::kShutdown), {});
        proto::Reply reply{};
        receive_reply(connection.get(), &reply, sizeof(reply), nullptr);
      }
    } catch (const Error& e) {
      log::debug("sandbox {}: shutdown request: {}", id_, e.what());
    }
  }
  cgroup_.remove();
  remove_state();
}

}  // namespace baleen::sandbox
