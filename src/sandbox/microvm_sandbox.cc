#include "sandbox/microvm_sandbox.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "core/error.h"
#include "core/fd.h"
#include "core/log.h"
#include "sandbox/exec_command.h"
#include "sandbox/microvm_protocol.h"
#include "sandbox/sandbox_state.h"
#include "sandbox/seccomp_filter.h"
#include "sandbox/stateful_sandbox.h"

namespace baleen::sandbox {

namespace fs = std::filesystem;
namespace proto = microvm_protocol;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// TCG boots Debian's kernel in ~15 s on an idle core; a loaded CI host can take several times that.
constexpr auto kBootPatience = 300s;
// A KVM guest answers in well under a second; one that has not after this is stuck (nested KVM that
// accepts the VM but faults in the guest, as inside a Firecracker VM), and TCG takes over.
constexpr auto kKvmBootPatience = 20s;
// How long past its own timeout a request may take before the guest counts as hung.
constexpr auto kReplyPatience = 120s;
constexpr int64_t kMinMemoryMiB = 128;                // below this Debian's kernel does not boot
constexpr int64_t kDefaultMemoryMiB = 1024;           // Limits::memory_bytes == 0 ("no limit")
constexpr int64_t kMaxFileBytes = int64_t{64} << 20;  // one frame (microvm_protocol.h)

// The boot artifacts of scripts/build_microvm.sh: dir/microvm.json names the kernel and initrd.
struct BootFiles {
  std::string dir, kernel, initrd, hash;
};

BootFiles open_boot_files(const std::string& dir) {
  std::string absolute = fs::absolute(dir).lexically_normal().string();
  std::ifstream in(absolute + "/microvm.json");
  check(in.good(), "microvm image '{}' has no microvm.json (build it with scripts/build_microvm.sh)", dir);
  json manifest = json::parse(in, nullptr, false);
  check(manifest.is_object() && manifest.value("format", "") == "baleen-microvm-1",
        "{}/microvm.json: expected format \"baleen-microvm-1\"", absolute);
  BootFiles boot{absolute, absolute + "/" + manifest.value("kernel", ""),
                 absolute + "/" + manifest.value("initrd", ""), manifest.value("hash", "")};
  for (const std::string* file : {&boot.kernel, &boot.initrd}) {
    check(fs::is_regular_file(*file), "{}/microvm.json names '{}', which is not a file", absolute, *file);
  }
  return boot;
}

std::string find_qemu() {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  for (size_t start = 0; start <= dirs.size();) {
    size_t end = std::min(dirs.find(':', start), dirs.size());
    std::string candidate = dirs.substr(start, end - start) + "/qemu-system-x86_64";
    if (end > start && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

enum class Accel { kKvm, kTcg };

std::string_view accel_name(Accel accel) {
  return accel == Accel::kKvm ? "kvm" : "tcg";
}

// Where a failed KVM boot of `boot` is remembered until the host restarts (/run is a tmpfs): later
// sandboxes on a host whose KVM cannot run this guest then boot under TCG at once instead of waiting
// kKvmBootPatience each. Removing the file tries KVM again.
std::string kvm_failure_record(const BootFiles& boot) {
  std::string name = boot.hash;
  std::replace(name.begin(), name.end(), ':', '-');
  return "/run/baleen/microvm-kvm-failed-" + name;
}

// BALEEN_MICROVM_ACCEL=kvm|tcg decides; otherwise KVM where /dev/kvm opens and it has not failed this
// guest before, with TCG as the fallback.
std::vector<Accel> accel_choices(const BootFiles& boot) {
  if (const char* forced = std::getenv("BALEEN_MICROVM_ACCEL")) {
    std::string_view name(forced);
    check(name == "kvm" || name == "tcg", "BALEEN_MICROVM_ACCEL={}: expected kvm or tcg", name);
    return {name == "kvm" ? Accel::kKvm : Accel::kTcg};
  }
  if (::access("/dev/kvm", R_OK | W_OK) == 0 && ::access(kvm_failure_record(boot).c_str(), F_OK) != 0)
    return {Accel::kKvm, Accel::kTcg};
  return {Accel::kTcg};
}

// Best effort: without a writable /run the next create just tries KVM again.
void record_kvm_failure(const BootFiles& boot, const std::string& error) {
  std::error_code ignored;
  std::filesystem::create_directories("/run/baleen", ignored);
  std::ofstream(kvm_failure_record(boot)) << error << "\n";
}

std::string socket_path(const std::string& state_dir) {
  return state_dir + "/agent.sock";
}

std::vector<std::string> qemu_command(const std::string& qemu, const BootFiles& boot, const Limits& limits,
                                      Accel accel, const std::string& state_dir) {
  constexpr int64_t kMiB = int64_t{1} << 20;
  int64_t memory_mib = limits.memory_bytes > 0
                           ? std::max(kMinMemoryMiB, (limits.memory_bytes + kMiB - 1) / kMiB)
                           : kDefaultMemoryMiB;
  int cpus = std::max(1, static_cast<int>(std::ceil(limits.cpus)));
  // Skipping the crypto self-tests, the i8042 probe and timer checks saves ~2/3 of a TCG boot.
  std::string append = fmt::format(
      "console=ttyS0 quiet panic=-1 cryptomgr.notests mitigations=off tsc=reliable no_timer_check "
      "i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd random.trust_cpu=on baleen.disk={} baleen.net={}",
      limits.disk_bytes, limits.network ? 1 : 0);
  bool kvm = accel == Accel::kKvm;
  std::vector<std::string> argv = {
      qemu,
      "-name",
      "baleen-sandbox",
      "-accel",
      kvm ? "kvm" : "tcg",
      "-cpu",
      kvm ? "host" : "max",
      "-nographic",
      "-nodefaults",
      "-no-user-config",
      "-no-reboot",
      "-m",
      fmt::format("{}M", memory_mib),
      "-smp",
      std::to_string(cpus),
      "-kernel",
      boot.kernel,
      "-initrd",
      boot.initrd,
      "-append",
      append,
      "-serial",
      "file:" + state_dir + "/console.log",
      "-chardev",
      fmt::format("socket,id=agent,path={},server=on,wait=off", socket_path(state_dir)),
      "-device",
      "virtio-serial-pci,max_ports=2",
      "-device",
      "virtserialport,chardev=agent,name=baleen.agent"};
  if (limits.network) {
    for (const char* arg : {"-netdev", "user,id=net", "-device", "virtio-net-pci,netdev=net"})
      argv.push_back(arg);
  }
  return argv;
}

// Forks and execs QEMU with its output in `log`. A library sandbox dies with its creator thread
// (PR_SET_PDEATHSIG); a persistent one gets its own session.
pid_t start_qemu(const std::vector<std::string>& command, const std::string& log, bool persist) {
  std::vector<char*> argv;
  for (const std::string& arg : command) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  Fd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  Fd out(::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  check(null && out, "cannot open '{}': {}", log, std::strerror(errno));
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  check(pid >= 0, "cannot fork QEMU: {}", std::strerror(errno));
  if (pid == 0) {  // only async-signal-safe calls: the parent may have threads
    if (persist) {
      ::setsid();
    } else if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) {
      ::_exit(127);
    }
    ::dup2(null.get(), 0);
    ::dup2(out.get(), 1);
    ::dup2(out.get(), 2);
    ::syscall(SYS_close_range, 3, ~0u, 0);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

// Whether `pid` is a live (not zombie) QEMU serving this state directory. Our own child cannot be
// reused before we reap it (and may not have exec'd yet); another's is checked by its command line.
bool qemu_running(pid_t pid, const std::string& state_dir, bool own_child) {
  if (pid <= 0) return false;
  std::ifstream cmdline(fmt::format("/proc/{}/cmdline", pid), std::ios::binary);
  std::string args((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
  if (!own_child && args.find(socket_path(state_dir)) == std::string::npos) return false;
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  size_t paren = text.rfind(')');
  return paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] != 'Z';
}

Fd connect_agent(const std::string& state_dir) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::string path = socket_path(state_dir);
  check(path.size() < sizeof(address.sun_path),
        "sandbox state path '{}' is longer than a unix socket allows ({})", path,
        sizeof(address.sun_path) - 1);
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  check(static_cast<bool>(fd), "cannot create a socket: {}", std::strerror(errno));
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) return Fd();
  return fd;
}

// The process substrate's filter, for the guest agent to install in each command (it has no libseccomp).
const json::binary_t& seccomp_bytes() {
  static const json::binary_t bytes = [] {
    const std::vector<sock_filter> program = sandbox_seccomp_program();
    const auto* begin = reinterpret_cast<const uint8_t*>(program.data());
    return json::binary_t(std::vector<uint8_t>(begin, begin + program.size() * sizeof(sock_filter)));
  }();
  return bytes;
}

std::string tail_of(const std::string& path, size_t bytes) {
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.size() > bytes ? text.substr(text.size() - bytes) : text;
}

// One sandbox: its QEMU process and the guest agent's socket. This file's alone, so its members are
// public to the create and attach functions below.
class MicrovmSandbox final : public StatefulSandbox {
 public:
  MicrovmSandbox() : StatefulSandbox("microvm") {}
  ~MicrovmSandbox() override { destroy_unless_persisted(); }
  ExecResult exec(const ExecRequest& request) override;
  void write_file(const std::string& path, std::string_view data, int mode) override;
  std::string read_file(const std::string& path, int64_t max_bytes) override;
  std::string snapshot(const std::string& image_dir) override;
  void destroy() override;
  // One request on a fresh connection to the guest agent; throws on an "error" reply, when the
  // VM exits, or when no reply comes within `patience`.
  json request(json message, std::chrono::milliseconds patience) const;
  std::string console_tail() const;
  // Copies the workspace's files into the guest's /work: the guest shares no filesystem with the host, so
  // its changes stay in its RAM (listing them is not supported).
  void copy_workspace_in();

  pid_t qemu_pid_ = -1;
  bool own_child_ = false;  // QEMU is our child: reap it
};

bool available(std::string* reason) {
  if (!find_qemu().empty()) return true;
  if (reason != nullptr) *reason = "qemu-system-x86_64 is not on PATH (apt-get install qemu-system-x86)";
  return false;
}

bool alive(const std::string& state_dir) {
  std::string absolute = fs::absolute(state_dir).string();
  return qemu_running(load_sandbox_state(absolute).value("qemu_pid", -1), absolute, false);
}

std::unique_ptr<Sandbox> create(const SandboxSpec& spec) {
  check(!spec.workspace || spec.workspace->mode == WorkspaceMode::kCopyOnWrite,
        "microvm substrate: a read-write workspace needs a filesystem shared with the host, which the VM "
        "does not have (use the process or container substrate)");
  BootFiles boot = open_boot_files(spec.image);
  const std::vector<Accel> choices = accel_choices(boot);
  for (size_t i = 0;; ++i) {
    const Accel accel = choices[i];
    auto sandbox = std::make_unique<MicrovmSandbox>();
    sandbox->start_new(&available, spec);
    try {
      const std::string& dir = sandbox->state_dir();
      sandbox->qemu_pid_ = start_qemu(qemu_command(find_qemu(), boot, spec.limits, accel, dir),
                                      dir + "/qemu.log", spec.persist);
      sandbox->own_child_ = true;
      sandbox->save_state(boot.dir, boot.hash,
                          {{"qemu_pid", sandbox->qemu_pid_}, {"accel", accel_name(accel)}});
      sandbox->request({{"op", "ping"}}, accel == Accel::kKvm ? kKvmBootPatience : kBootPatience);
      if (sandbox->workspace()) sandbox->copy_workspace_in();
      return sandbox;
    } catch (const Error& e) {
      std::string console = sandbox->console_tail();
      sandbox->destroy();
      if (i + 1 == choices.size())
        fail("cannot boot the microvm sandbox ({}): {}\n{}", accel_name(accel), e.what(), console);
      log::warn("microvm: the {} boot failed, trying {} (and {} from now on; {} records it): {}",
                accel_name(accel), accel_name(choices[i + 1]), accel_name(choices[i + 1]),
                kvm_failure_record(boot), std::string(e.what()).substr(0, 200));
      record_kvm_failure(boot, e.what());
    }
  }
}

std::unique_ptr<Sandbox> attach(const std::string& state_dir) {
  auto sandbox = std::make_unique<MicrovmSandbox>();
  sandbox->qemu_pid_ = sandbox->attach_to(state_dir).at("qemu_pid");
  return sandbox;
}

}  // namespace

std::string microvm_kvm_failure_record(const std::string& image_dir) {
  return kvm_failure_record(open_boot_files(image_dir));
}

const Substrate& microvm_substrate() {
  static const Substrate row{"microvm", &create, &attach, &available, &alive};
  return row;
}

void MicrovmSandbox::copy_workspace_in() {
  int64_t bytes = 0;
  for (const auto& entry : fs::recursive_directory_iterator(workspace_->dir)) {
    if (entry.is_symlink() || !entry.is_regular_file()) continue;
    bytes += static_cast<int64_t>(entry.file_size());
    check(limits_.disk_bytes == 0 || bytes <= limits_.disk_bytes,
          "microvm substrate: the workspace '{}' holds more than the disk limit of {} bytes", workspace_->dir,
          limits_.disk_bytes);
    std::ifstream in(entry.path(), std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto mode = static_cast<int>(entry.status().permissions() & fs::perms::mask);
    write_file(fmt::format("{}/{}", kWorkspaceMount, fs::relative(entry.path(), workspace_->dir).string()),
               data, mode);
  }
}

std::string MicrovmSandbox::console_tail() const {
  return "--- console.log (tail) ---\n" + tail_of(state_dir_ + "/console.log", 2000) +
         "\n--- qemu.log (tail) ---\n" + tail_of(state_dir_ + "/qemu.log", 1000);
}

json MicrovmSandbox::request(json message, std::chrono::milliseconds patience) const {
  check_not_destroyed();
  auto deadline = std::chrono::steady_clock::now() + patience;
  auto wait_a_little = [&](const char* what) {
    check(qemu_running(qemu_pid_, state_dir_, own_child_), "sandbox {}: its VM has exited ({})", id_, what);
    check(std::chrono::steady_clock::now() < deadline,
          "sandbox {}: no answer from the guest agent within {} s ({})", id_,
          std::chrono::duration_cast<std::chrono::seconds>(patience).count(), what);
  };
  // QEMU creates the socket a moment after it starts.
  Fd connection;
  while (!(connection = connect_agent(state_dir_))) {
    wait_a_little("connecting");
    std::this_thread::sleep_for(10ms);
  }
  // A random sequence number tells this reply from a reply to an earlier client that went away.
  std::random_device random;
  int64_t seq = static_cast<int64_t>((uint64_t{random()} << 31) ^ random());
  message["seq"] = seq;
  proto::write_frame(connection.get(), message);
  for (;;) {
    pollfd ready{connection.get(), POLLIN, 0};
    if (::poll(&ready, 1, 1000) <= 0) {
      wait_a_little(message.value("op", "").c_str());
      continue;
    }
    std::optional<json> reply = proto::read_frame(connection.get());
    check(reply.has_value(), "sandbox {}: the VM closed the agent channel", id_);
    if (reply->value("seq", int64_t{-1}) != seq) continue;
    if (reply->value("op", "") == "error") fail("sandbox {}: {}", id_, reply->value("message", "error"));
    return *reply;
  }
}

ExecResult MicrovmSandbox::exec(const ExecRequest& request) {
  const ExecCommand command = exec_command(request, limits_, working_dir());
  const std::chrono::milliseconds timeout = command.timeout;
  json reply = this->request(
      {{"op", "exec"},
       {"argv", command.argv},
       {"env", command.env},
       {"cwd", command.cwd},
       {"stdin", json::binary_t(std::vector<uint8_t>(request.stdin_data.begin(), request.stdin_data.end()))},
       {"timeout_ms", timeout.count()},
       {"pids", limits_.pids},
       {"seccomp", seccomp_bytes()},
       {"output_bytes", limits_.output_bytes}},
      timeout + kReplyPatience);
  auto text = [&](const char* key) {
    const auto& bytes = reply.at(key).get_binary();
    return std::string(bytes.begin(), bytes.end());
  };
  ExecResult result;
  result.exit_code = reply.at("exit_code");
  result.signal = reply.at("signal");
  result.timed_out = reply.at("timed_out");
  result.stdout_data = text("stdout");
  result.stderr_data = text("stderr");
  result.stdout_truncated = reply.at("stdout_truncated");
  result.stderr_truncated = reply.at("stderr_truncated");
  result.wall_seconds = reply.at("wall_ns").get<double>() * 1e-9;
  result.cpu_seconds = reply.at("cpu_us").get<double>() * 1e-6;
  result.peak_memory_bytes = reply.at("max_rss_kb").get<int64_t>() * 1024;
  return result;
}

void MicrovmSandbox::write_file(const std::string& path, std::string_view data, int mode) {
  check(static_cast<int64_t>(data.size()) <= kMaxFileBytes,
        "write_file '{}': {} bytes; the microvm substrate "
        "moves at most {} bytes a file",
        path, data.size(), kMaxFileBytes);
  request({{"op", "write_file"},
           {"path", in_working_dir(path)},
           {"mode", mode},
           {"data", json::binary_t(std::vector<uint8_t>(data.begin(), data.end()))}},
          kReplyPatience);
}

std::string MicrovmSandbox::read_file(const std::string& path, int64_t max_bytes) {
  json reply = request({{"op", "read_file"},
                        {"path", in_working_dir(path)},
                        {"max_bytes", std::min(max_bytes, kMaxFileBytes)}},
                       kReplyPatience);
  const auto& bytes = reply.at("data").get_binary();
  return std::string(bytes.begin(), bytes.end());
}

std::string MicrovmSandbox::snapshot(const std::string&) {
  fail(
      "microvm substrate: snapshot is not supported (the guest's files live in its RAM; copy them out with "
      "read_file, or use the process substrate)");
}

void MicrovmSandbox::destroy() {
  if (destroyed_) return;
  auto exited_within = [&](std::chrono::milliseconds wait) {
    for (auto end = std::chrono::steady_clock::now() + wait; std::chrono::steady_clock::now() < end;) {
      if (!qemu_running(qemu_pid_, state_dir_, own_child_)) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  };
  if (qemu_running(qemu_pid_, state_dir_, own_child_)) {
    try {
      request({{"op", "shutdown"}}, 5s);  // the guest powers off; the kill below covers a hung one
    } catch (const Error& e) {
      log::debug("sandbox {}: shutdown request: {}", id_, e.what());
    }
    if (!exited_within(2s)) {
      ::kill(qemu_pid_, SIGKILL);
      exited_within(10s);
    }
  }
  begin_destroy();
  if (own_child_) ::waitpid(qemu_pid_, nullptr, 0);
  remove_state();
}

}  // namespace baleen::sandbox
