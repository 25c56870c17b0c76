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
#include "sandbox/image.h"
#include "sandbox/init_plan.h"
#include "sandbox/init_pool.h"
#include "sandbox/init_protocol.h"
#include "sandbox/layer_copy.h"
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

}  // namespace

bool ProcessSandbox::available(std::string* reason) {
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

std::unique_ptr<Sandbox> ProcessSandbox::create(const SandboxSpec& spec) {
  std::string reason;
  check(available(&reason), "process substrate unavailable: {}", reason);
  check(!spec.state_root.empty(), "process substrate: the spec names no state_root");
  Image image = Image::open(spec.image);
  std::unique_ptr<ProcessSandbox> sandbox(new ProcessSandbox());
  sandbox->id_ = new_sandbox_id();
  sandbox->state_dir_ = fs::absolute(sandbox_state_dir(spec.state_root, sandbox->id_)).string();
  sandbox->image_dir_ = image.dir;
  sandbox->limits_ = spec.limits;
  sandbox->persist_ = spec.persist;
  sandbox->ids_ = spec.user_namespace;
  fs::create_directories(sandbox->state_dir_ + "/mnt");
  try {
    Fd listener = listen_socket(sandbox->state_dir_);
    InitPlan plan = make_plan(image, spec, sandbox->state_dir_);
    plan.listen_fd = listener.get();
    InitHandover init(plan, spec.limits, !spec.limits.network);
    // All of this runs while init builds the root (on another CPU when there is one).
    sandbox->cgroup_ = init.cgroup(sandbox->id_, spec.limits);
    sandbox->init_pid_ = init.pid();
    save_sandbox_state(sandbox->state_dir_, {{"id", sandbox->id_},
                                             {"substrate", "process"},
                                             {"image", image.dir},
                                             {"image_hash", image.hash},
                                             {"limits", limits_to_json(spec.limits)},
                                             {"init_pid", sandbox->init_pid_},
                                             {"cgroups", sandbox->cgroup_.dirs()},
                                             {"cgroup_v2", sandbox->cgroup_.v2()},
                                             {"persist", spec.persist},
                                             {"user_namespace", ids_to_json(spec.user_namespace)}});
    init.await_ready();
    sandbox->own_child_ = true;
  } catch (...) {
    sandbox->cgroup_.remove();
    std::error_code ignored;
    fs::remove_all(sandbox->state_dir_, ignored);
    throw;
  }
  return sandbox;
}

std::unique_ptr<Sandbox> ProcessSandbox::attach(const std::string& state_dir) {
  nlohmann::json state = load_sandbox_state(state_dir);
  std::unique_ptr<ProcessSandbox> sandbox(new ProcessSandbox());
  sandbox->id_ = state.at("id");
  sandbox->state_dir_ = fs::absolute(state_dir).string();
  sandbox->image_dir_ = state.at("image");
  sandbox->limits_ = limits_from_json(state.at("limits"));
  sandbox->init_pid_ = state.at("init_pid");
  sandbox->cgroup_ = SandboxCgroup::from_dirs(state.at("cgroups"), state.at("cgroup_v2"));
  sandbox->persist_ = true;  // attached sandboxes are never destroyed implicitly
  sandbox->ids_ = ids_from_json(state.value("user_namespace", nlohmann::json()));
  return sandbox;
}

bool ProcessSandbox::alive(const std::string& state_dir) {
  sockaddr_un address = socket_address(fs::absolute(state_dir).string());
  Fd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  return fd && ::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
}

ProcessSandbox::~ProcessSandbox() {
  if (destroyed_ || persist_) return;
  try {
    destroy();
  } catch (const Error& e) {
    log::warn("sandbox {}: {}", id_, e.what());
  }
}

Fd ProcessSandbox::connect() const {
  check(!destroyed_, "sandbox {} was destroyed", id_);
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
  std::vector<std::string> argv = request.argv;
  if (!request.shell.empty()) argv = {"/bin/sh", "-c", request.shell};
  check(!argv.empty(), "exec: the request has neither argv nor a shell line");
  std::vector<std::string> env = request.env;
  if (env.empty())
    env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "TERM=dumb"};
  check(argv.size() <= proto::kMaxStrings && env.size() <= proto::kMaxStrings, "exec: more than {} arguments",
        proto::kMaxStrings);
  proto::Header header{};
  header.op = proto::kExec;
  header.argc = static_cast<uint32_t>(argv.size());
  header.envc = static_cast<uint32_t>(env.size());
  header.timeout_ms = request.timeout.value_or(limits_.wall_timeout).count();
  header.rlimit_as = cgroup_.limits_memory() ? 0 : limits_.memory_bytes;
  std::vector<char> message(sizeof(header));
  for (const auto* list : {&argv, &env}) {
    for (const std::string& s : *list) message.insert(message.end(), s.c_str(), s.c_str() + s.size() + 1);
  }
  message.insert(message.end(), request.cwd.c_str(), request.cwd.c_str() + request.cwd.size() + 1);
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
    std::string subject = reply.stage == proto::kChdir ? request.cwd : argv[0];
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

void ProcessSandbox::write_file(const std::string& path, std::string_view data, int mode) {
  Fd root = request_dir(proto::kRootDir);
  std::string relative = relative_to_root(path);
  size_t slash = relative.rfind('/');
  if (slash != std::string::npos)
    make_dirs_confined(root.get(), relative.substr(0, slash), Confinement::kInRoot,
                       ids_ ? std::optional<uint32_t>(ids_->first) : std::nullopt);
  Fd fd = open_confined(root.get(), relative, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode,
                        Confinement::kInRoot);
  write_whole(fd.get(), data, path);
  // We write as host root: what we create must belong to the sandbox's root, or inside it would be
  // an unmapped owner that not even the sandbox's root may change.
  struct stat st {};
  bool ok = !ids_ || (::fstat(fd.get(), &st) == 0 &&
                      (ids_->contains(st.st_uid) || ::fchown(fd.get(), ids_->first, ids_->first) == 0));
  check(ok, "cannot give '{}' to the sandbox's root: {}", path, std::strerror(errno));
  ok = ::fchmod(fd.get(), static_cast<mode_t>(mode)) == 0;
  check(ok, "cannot chmod '{}': {}", path, std::strerror(errno));
}

std::string ProcessSandbox::read_file(const std::string& path, int64_t max_bytes) {
  Fd root = request_dir(proto::kRootDir);
  Fd fd = open_confined(root.get(), path, O_RDONLY, 0, Confinement::kInRoot);
  return read_whole(fd.get(), max_bytes, path);
}

std::string ProcessSandbox::snapshot(const std::string& image_dir) {
  Fd upper = request_dir(proto::kUpperDir);
  return write_snapshot_image(image_dir_, fmt::format("/proc/self/fd/{}", upper.get()), image_dir, ids_);
}

void ProcessSandbox::destroy() {
  if (destroyed_) return;
  destroyed_ = true;
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
  std::error_code error;
  fs::remove_all(state_dir_, error);
  check(!error, "sandbox {}: cannot remove its state '{}': {}", id_, state_dir_, error.message());
}

}  // namespace baleen::sandbox
