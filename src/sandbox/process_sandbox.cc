#include "sandbox/process_sandbox.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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
#include "core/worker_pool.h"
#include "sandbox/cgroup.h"
#include "sandbox/exec_command.h"
#include "sandbox/image.h"
#include "sandbox/init_handover.h"
#include "sandbox/init_plan.h"
#include "sandbox/init_pool.h"
#include "sandbox/init_protocol.h"
#include "sandbox/layered_sandbox.h"
#include "sandbox/output_capture.h"
#include "sandbox/prepared_sandbox.h"
#include "sandbox/sandbox_state.h"

namespace baleen::sandbox {

namespace proto = init_protocol;
namespace fs = std::filesystem;

namespace {

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
  std::optional<PreparedSandbox> prepared;
  if (available(nullptr)) prepared = take_prepared_sandbox(spec);
  sandbox->start_new(&available, spec, prepared ? prepared->id : std::string());
  const std::string& state_dir = sandbox->state_dir();
  try {
    std::optional<Image> image;
    std::optional<InitHandover> init;
    if (prepared) {
      image = std::move(prepared->image);
      init = std::move(prepared->init);
    } else {
      image = Image::open(spec.image);
      fs::create_directories(state_dir + "/mnt");
      Fd listener = listen_control_socket(state_dir);
      InitPlan plan = make_plan(*image, spec, state_dir);
      plan.listen_fd = listener.get();
      init.emplace(spec.limits.network ? start_init_program(false) : take_pooled_init(spec.limits), plan);
    }
    sandbox->image_dir_ = image->dir;
    sandbox->ids_ = spec.user_namespace;
    // All of this runs while init builds the root (on another CPU when there is one), unless prepared.
    sandbox->cgroup_ = init->cgroup(sandbox->id(), spec.limits);
    sandbox->init_pid_ = init->pid();
    sandbox->save_layers_state(*image, {{"init_pid", sandbox->init_pid_}});
    if (!prepared) init->await_setup();
    init->release();
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
  sockaddr_un address = control_socket_address(fs::absolute(state_dir).string());
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
  sockaddr_un address = control_socket_address(state_dir_);
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
    // Killing a pid namespace's init kills every process in it, and the kernel tears the namespaces
    // down as init exits (~0.2 ms). Only reaping init, then removing its cgroups, wait on that: they
    // run on a reaper thread. The state directory goes now (the mounts init made on it were its own
    // namespace's, and left even that when it pivoted): no caller sees the sandbox once destroy returns.
    ::kill(init_pid_, SIGKILL);
    static auto* reaper = new WorkerPool(1);  // never destroyed: a zombie left at exit goes with us
    reaper->submit([pid = init_pid_, cgroup = std::move(cgroup_)]() mutable {
      while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
      cgroup.remove_later();  // every process is gone: nothing the rmdir waits for concerns us
    });
  } else if (alive(state_dir_)) {
    try {
      sockaddr_un address = control_socket_address(state_dir_);
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
