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
#include "sandbox/confined_path.h"
#include "sandbox/image.h"
#include "sandbox/layer_copy.h"
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

}  // namespace

bool ContainerSandbox::available(std::string* reason) {
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

std::unique_ptr<Sandbox> ContainerSandbox::create(const SandboxSpec& spec) {
  std::string reason;
  check(available(&reason), "container substrate unavailable: {}", reason);
  check(!spec.state_root.empty(), "container substrate: the spec names no state_root");
  Image image = Image::open(spec.image);
  std::unique_ptr<ContainerSandbox> sandbox(new ContainerSandbox());
  sandbox->id_ = new_sandbox_id();
  sandbox->state_dir_ = fs::absolute(sandbox_state_dir(spec.state_root, sandbox->id_)).string();
  sandbox->image_dir_ = image.dir;
  sandbox->limits_ = spec.limits;
  sandbox->persist_ = spec.persist;
  sandbox->crun_ = Crun(sandbox->state_dir_ + "/crun");
  const std::string& dir = sandbox->state_dir_;
  for (const char* sub : {"/mnt", "/bundle", "/crun"}) fs::create_directories(dir + sub);
  bool mounted = false;
  try {
    sandbox->cgroup_ = SandboxCgroup::create(sandbox->id_, spec.limits);
    WritableLayer layer = WritableLayer::plan(image, spec.limits.disk_bytes, dir + "/mnt");
    layer.mount();
    mounted = true;
    OciConfigInput input{layer.root, sandbox->id_, spec.limits, sandbox->cgroup_.limits_memory()};
    std::ofstream(dir + "/bundle/config.json") << oci_config(input).dump(2) << "\n";
    sandbox->crun_.run({.args = {"run", "--detach", "--bundle", dir + "/bundle", sandbox->id_},
                        .cgroup = &sandbox->cgroup_});
  } catch (...) {
    try {
      sandbox->crun_.run({.args = {"delete", "--force", sandbox->id_}});
    } catch (const Error&) {
    }
    if (mounted) WritableLayer::unmount(dir + "/mnt");
    sandbox->cgroup_.remove();
    std::error_code ignored;
    fs::remove_all(dir, ignored);
    throw;
  }
  save_sandbox_state(dir, {{"id", sandbox->id_},
                           {"substrate", "container"},
                           {"image", image.dir},
                           {"image_hash", image.hash},
                           {"limits", limits_to_json(spec.limits)},
                           {"cgroups", sandbox->cgroup_.dirs()},
                           {"cgroup_v2", sandbox->cgroup_.v2()},
                           {"persist", spec.persist}});
  return sandbox;
}

std::unique_ptr<Sandbox> ContainerSandbox::attach(const std::string& state_dir) {
  nlohmann::json state = load_sandbox_state(state_dir);
  std::unique_ptr<ContainerSandbox> sandbox(new ContainerSandbox());
  sandbox->id_ = state.at("id");
  sandbox->state_dir_ = fs::absolute(state_dir).string();
  sandbox->image_dir_ = state.at("image");
  sandbox->limits_ = limits_from_json(state.at("limits"));
  sandbox->cgroup_ = SandboxCgroup::from_dirs(state.at("cgroups"), state.at("cgroup_v2"));
  sandbox->crun_ = Crun(sandbox->state_dir_ + "/crun");
  sandbox->persist_ = true;  // attached sandboxes are never destroyed implicitly
  return sandbox;
}

bool ContainerSandbox::alive(const std::string& state_dir) {
  std::string dir = fs::absolute(state_dir).string();
  try {
    nlohmann::json state = load_sandbox_state(dir);
    std::string out = Crun(dir + "/crun").run({.args = {"state", state.at("id").get<std::string>()}});
    return nlohmann::json::parse(out).value("status", "") == "running";
  } catch (const std::exception&) {
    return false;
  }
}

ContainerSandbox::~ContainerSandbox() {
  if (destroyed_ || persist_) return;
  try {
    destroy();
  } catch (const Error& e) {
    log::warn("sandbox {}: {}", id_, e.what());
  }
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
  check(!destroyed_, "sandbox {} was destroyed", id_);
  std::vector<std::string> argv = request.argv;
  if (!request.shell.empty()) argv = {"/bin/sh", "-c", request.shell};
  check(!argv.empty(), "exec: the request has neither argv nor a shell line");
  // crun exec takes no_new_privs from its flags, not from config.json.
  std::vector<std::string> args = {"exec", "--no-new-privs", "--cwd",
                                   request.cwd.empty() ? "/" : request.cwd};
  for (const std::string& variable : request.env.empty() ? default_exec_env() : request.env) {
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
  auto timeout = request.timeout.value_or(limits_.wall_timeout);
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

int ContainerSandbox::open_root() const {
  check(!destroyed_, "sandbox {} was destroyed", id_);
  std::string root = state_dir_ + "/mnt/root";
  int fd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  check(fd >= 0, "sandbox {}: cannot open its root {}: {}", id_, root, std::strerror(errno));
  return fd;
}

// The host sees the same overlay mount as the container: openat2(RESOLVE_IN_ROOT) on it resolves
// '..' and absolute symlinks inside it, like chroot.
void ContainerSandbox::write_file(const std::string& path, std::string_view data, int mode) {
  Fd root(open_root());
  std::string relative = relative_to_root(path);
  size_t slash = relative.rfind('/');
  if (slash != std::string::npos)
    make_dirs_confined(root.get(), relative.substr(0, slash), Confinement::kInRoot);
  Fd fd = open_confined(root.get(), relative, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode,
                        Confinement::kInRoot);
  write_whole(fd.get(), data, path);
  bool ok = ::fchmod(fd.get(), static_cast<mode_t>(mode)) == 0;
  check(ok, "cannot chmod '{}': {}", path, std::strerror(errno));
}

std::string ContainerSandbox::read_file(const std::string& path, int64_t max_bytes) {
  Fd root(open_root());
  Fd fd = open_confined(root.get(), path, O_RDONLY, 0, Confinement::kInRoot);
  return read_whole(fd.get(), max_bytes, path);
}

std::string ContainerSandbox::snapshot(const std::string& image_dir) {
  check(!destroyed_, "sandbox {} was destroyed", id_);
  return write_snapshot_image(image_dir_, state_dir_ + "/mnt/upper", image_dir, std::nullopt);
}

void ContainerSandbox::destroy() {
  if (destroyed_) return;
  destroyed_ = true;
  if (!fs::exists(state_dir_)) return;  // another handle destroyed it
  // delete --force kills the init (and so the pid namespace) and removes crun's state.
  try {
    crun_.run({.args = {"delete", "--force", id_}});
  } catch (const Error& e) {
    log::debug("sandbox {}: {}", id_, e.what());
  }
  WritableLayer::unmount(state_dir_ + "/mnt");
  cgroup_.remove();
  std::error_code error;
  fs::remove_all(state_dir_, error);
  check(!error, "sandbox {}: cannot remove its state '{}': {}", id_, state_dir_, error.message());
}

}  // namespace baleen::sandbox
