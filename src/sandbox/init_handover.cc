#include "sandbox/init_handover.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <utility>

#include "core/error.h"
#include "sandbox/seccomp_filter.h"
#include "sandbox/user_namespace.h"
#include "sandbox/writable_layer.h"

namespace baleen::sandbox {

namespace fs = std::filesystem;

sockaddr_un control_socket_address(const std::string& state_dir) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::string path = state_dir + "/control.sock";
  check(path.size() < sizeof(address.sun_path),
        "sandbox state path '{}' is longer than a unix socket allows ({})", path,
        sizeof(address.sun_path) - 1);
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  return address;
}

Fd listen_control_socket(const std::string& state_dir) {
  sockaddr_un address = control_socket_address(state_dir);
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
  // Never destroyed: the prepared sandboxes' worker may make a plan while the process exits.
  static const auto* seccomp = new std::vector<sock_filter>(sandbox_seccomp_program());
  static const int cap_last = [] {
    int value = 63;
    std::ifstream("/proc/sys/kernel/cap_last_cap") >> value;
    return value;
  }();
  plan.seccomp = *seccomp;
  plan.cap_last = cap_last;
  return plan;
}

InitHandover::InitHandover(StartedInit init, const InitPlan& plan) : init_(std::move(init)) {
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

InitHandover::InitHandover(InitHandover&& other) noexcept
    : init_(std::move(other.init_)), done_(std::exchange(other.done_, true)) {}

InitHandover& InitHandover::operator=(InitHandover&& other) noexcept {
  if (this != &other) {
    end();
    init_ = std::move(other.init_);
    done_ = std::exchange(other.done_, true);
  }
  return *this;
}

InitHandover::~InitHandover() {
  end();
}

void InitHandover::end() {
  if (done_) return;
  kill_init();
  init_.cgroup.remove_later();  // a pooled init's: it is reaped
  done_ = true;
}

SandboxCgroup InitHandover::cgroup(const std::string& id, const Limits& limits) {
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
    done_ = true;
    cgroup.remove();
    throw;
  }
  return cgroup;
}

void InitHandover::await_setup() {
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
    abandon(fmt::format("init failed while {}: {}{}", init_step_name(status.step), std::strerror(status.error),
                        hint));
  }
}

void InitHandover::release() {
  char go = 1;
  if (::write(init_.channel.get(), &go, 1) != 1) abandon("init exited after setup");
  init_.channel = Fd();
  done_ = true;
}

void InitHandover::abandon(const std::string& why) {
  fail("cannot start the process sandbox: {}", why);
}

void InitHandover::kill_init() {
  if (init_.pid <= 0) return;
  ::kill(init_.pid, SIGKILL);
  while (::waitpid(init_.pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  init_.pid = -1;
}

}  // namespace baleen::sandbox
