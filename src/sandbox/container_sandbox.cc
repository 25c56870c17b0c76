#include "sandbox/container_sandbox.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/log.h"
#include "sandbox/cgroup.h"
#include "sandbox/crun.h"
#include "sandbox/exec_command.h"
#include "sandbox/image.h"
#include "sandbox/layered_sandbox.h"
#include "sandbox/oci_config.h"
#include "sandbox/output_capture.h"
#include "sandbox/sandbox_state.h"
#include "sandbox/writable_layer.h"

namespace baleen::sandbox {

namespace fs = std::filesystem;

namespace {

// crun exec reports the command's status as an exit code: 128+N when signal N ended it, 255 (and
// a message on stderr) when it could not start it.
void set_status(int crun_status, const std::string& program, ExecResult* result) {
  if (WIFSIGNALED(crun_status)) {  // crun itself was killed
    result->signal = WTERMSIG(crun_status);
    return;
  }
  int code = WEXITSTATUS(crun_status);
  const std::string& err = result->stderr_data;
  bool crun_failed = code == 255 && (err.find("executable file `") != std::string::npos ||
                                     err.find("chdir `") != std::string::npos ||
                                     err.find("open executable") != std::string::npos);
  if (crun_failed) {
    bool missing = err.find("chdir `") == std::string::npos && err.find("No such file") != std::string::npos;
    result->exit_code = missing ? 127 : 126;
    log::debug("container exec '{}': crun could not start it", program);
  } else if (code > 128 && code <= 128 + SIGRTMAX) {
    result->signal = code - 128;
  } else {
    result->exit_code = code;
  }
}

double seconds(const timeval& t) {
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
}

// One sandbox: crun's state and the sandbox's cgroups. This file's alone, so its members are public to
// the create and attach functions below.
class ContainerSandbox final : public LayeredSandbox {
 public:
  ContainerSandbox() : LayeredSandbox("container") {}
  ~ContainerSandbox() override { destroy_unless_persisted(); }
  ExecResult exec(const ExecRequest& request) override;
  void destroy() override;
  // Kills every process of the sandbox but its init (a timeout), as init's kill(-1) would.
  void kill_commands() const;

  Crun crun_;

 protected:
  // The host sees the same overlay mount as the container.
  Fd open_dir(Dir dir) const override;
};

bool available(std::string* reason) {
  auto no = [&](const char* why) {
    if (reason != nullptr) *reason = why;
    return false;
  };
  if (::geteuid() != 0) return no("the container substrate needs root (overlayfs mounts, crun as root)");
  if (Crun::find(reason).empty()) return false;
  std::ifstream filesystems("/proc/filesystems");
  std::string text((std::istreambuf_iterator<char>(filesystems)), std::istreambuf_iterator<char>());
  if (text.find("overlay") == std::string::npos) return no("the kernel has no overlayfs");
  return true;
}

std::unique_ptr<Sandbox> create(const SandboxSpec& spec) {
  auto sandbox = std::make_unique<ContainerSandbox>();
  sandbox->start_new(&available, spec);
  const std::string& dir = sandbox->state_dir();
  sandbox->crun_ = Crun(dir + "/crun");
  bool mounted = false;
  try {
    Image image = Image::open(spec.image);
    sandbox->image_dir_ = image.dir;
    for (const char* sub : {"/mnt", "/bundle", "/crun"}) fs::create_directories(dir + sub);
    sandbox->cgroup_ = SandboxCgroup::create(sandbox->id(), spec.limits);
    WritableLayer layer = WritableLayer::plan(image, spec.limits.disk_bytes, dir + "/mnt");
    layer.mount();
    mounted = true;
    if (sandbox->workspace()) layer.mount_workspace(*sandbox->workspace());
    OciConfigInput input{layer.root, sandbox->id(), spec.limits, sandbox->cgroup_.limits_memory()};
    std::ofstream(dir + "/bundle/config.json") << oci_config(input).dump(2) << "\n";
    sandbox->crun_.run({.args = {"run", "--detach", "--bundle", dir + "/bundle", sandbox->id()},
                        .cgroup = &sandbox->cgroup_});
    sandbox->save_layers_state(image, nlohmann::json::object());
  } catch (...) {
    try {
      sandbox->crun_.run({.args = {"delete", "--force", sandbox->id()}});
    } catch (const Error&) {
    }
    if (mounted) WritableLayer::unmount(dir + "/mnt");
    sandbox->abandon();
    throw;
  }
  return sandbox;
}

std::unique_ptr<Sandbox> attach(const std::string& state_dir) {
  auto sandbox = std::make_unique<ContainerSandbox>();
  sandbox->attach_layers(state_dir);
  sandbox->crun_ = Crun(sandbox->state_dir() + "/crun");
  return sandbox;
}

bool alive(const std::string& state_dir) {
  std::string dir = fs::absolute(state_dir).string();
  try {
    nlohmann::json state = load_sandbox_state(dir);
    std::string out = Crun(dir + "/crun").run({.args = {"state", state.at("id").get<std::string>()}});
    return nlohmann::json::parse(out).value("status", "") == "running";
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

const Substrate& container_substrate() {
  static const Substrate row{"container", &create, &attach, &available, &alive};
  return row;
}

void ContainerSandbox::kill_commands() const {
  // Outside the sandbox's cgroups: a fork bomb at the pids limit must not stop the kill.
  try {
    crun_.run({.args = {"exec", id_, "/bin/kill", "-KILL", "-1"}});
  } catch (const Error& e) {
    log::warn("sandbox {}: cannot kill its commands: {}", id_, e.what());
  }
}

ExecResult ContainerSandbox::exec(const ExecRequest& request) {
  check_not_destroyed();
  const ExecCommand command = exec_command(request, limits_, working_dir());
  const std::vector<std::string>& argv = command.argv;
  // crun exec takes no_new_privs from its flags, not from config.json.
  std::vector<std::string> args = {"exec", "--no-new-privs", "--cwd", command.cwd};
  for (const std::string& variable : command.env) {
    args.insert(args.end(), {"--env", variable});
  }
  args.push_back(id_);
  args.insert(args.end(), argv.begin(), argv.end());

  CommandPipes pipes = CommandPipes::open();
  auto start = std::chrono::steady_clock::now();
  pid_t pid =
      crun_.spawn({.args = args,
                   .stdio = {pipes.stdin_read.get(), pipes.stdout_write.get(), pipes.stderr_write.get()},
                   .cgroup = &cgroup_});
  pipes.stdin_read = Fd();
  pipes.stdout_write = Fd();
  pipes.stderr_write = Fd();
  // A pidfd turns readable when crun exec (which waits for the command) exits: the "reply".
  Fd exited(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  check(static_cast<bool>(exited), "pidfd_open failed: {}", std::strerror(errno));
  bool timed_out = false;
  const auto timeout = command.timeout;
  Deadline deadline{start + timeout, [&] {
                      timed_out = true;
                      kill_commands();
                    }};
  CapturedOutput output = pump_until_reply(pipes, request.stdin_data, exited.get(), limits_.output_bytes,
                                           timeout.count() > 0 ? &deadline : nullptr);
  int status = 0;
  rusage usage{};
  while (::wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
  }
  ExecResult result;
  result.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.stdout_data = std::move(output.stdout_data);
  result.stderr_data = std::move(output.stderr_data);
  result.stdout_truncated = output.stdout_truncated;
  result.stderr_truncated = output.stderr_truncated;
  result.timed_out = timed_out;
  // crun waits for the command, so its children's usage is the command's (plus crun's own).
  result.cpu_seconds = seconds(usage.ru_utime) + seconds(usage.ru_stime);
  result.peak_memory_bytes = usage.ru_maxrss * 1024;
  set_status(status, argv[0], &result);
  return result;
}

Fd ContainerSandbox::open_dir(Dir which) const {
  check_not_destroyed();
  std::string dir = state_dir_ + (which == Dir::kRoot ? "/mnt/root" : "/mnt");
  Fd fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  check(static_cast<bool>(fd), "sandbox {}: cannot open {}: {}", id_, dir, std::strerror(errno));
  return fd;
}

void ContainerSandbox::destroy() {
  if (!begin_destroy()) return;
  if (!fs::exists(state_dir_)) return;  // another handle destroyed it
  // delete --force kills the init (and so the pid namespace) and removes crun's state.
  try {
    crun_.run({.args = {"delete", "--force", id_}});
  } catch (const Error& e) {
    log::debug("sandbox {}: {}", id_, e.what());
  }
  WritableLayer::unmount(state_dir_ + "/mnt");
  cgroup_.remove();
  remove_state();
}

}  // namespace baleen::sandbox
