// One API over every sandbox substrate (DESIGN.md "sandbox"): create a sandbox from an image and limits,
// exec in it, move files in and out, snapshot it, destroy it. A Sandbox object is used by one thread at
// a time; failures of the substrate throw baleen::Error, while a command that fails inside the sandbox
// is an ordinary ExecResult (non-zero exit, signal or timeout).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace baleen::sandbox {

// Resource limits of one sandbox. Zero means "no limit" for the numeric fields.
struct Limits {
  int64_t memory_bytes = int64_t{512} << 20;       // whole sandbox (cgroup), else RLIMIT_AS per process
  int64_t pids = 256;                              // processes + threads alive at once
  double cpus = 1.0;                               // CPU bandwidth in cores
  int64_t disk_bytes = int64_t{256} << 20;         // size of the writable layer
  std::chrono::milliseconds wall_timeout{60'000};  // default per-exec timeout
  bool network = false;                            // false: own loopback only; true: the host's network
  int64_t output_bytes = int64_t{1} << 20;         // cap on each of stdout and stderr per exec
};

// A user namespace's id mapping: the sandbox's uids and gids 0..count-1 are the host's
// first..first+count-1, so its root is an unprivileged host user (docs/SANDBOX.md "User namespace").
struct IdMapping {
  uint32_t first = 100000;
  uint32_t count = 65536;
  bool contains(uint32_t host_id) const { return host_id >= first && host_id - first < count; }
};

// The host directory a sandbox works in, seen inside at kWorkspaceMount (the commands' default working
// directory). Copy-on-write: the sandbox's changes stay in its writable layer, listed by
// Sandbox::workspace_changes and written to the directory only by apply_workspace. Read-write: they reach
// the directory at once.
enum class WorkspaceMode { kCopyOnWrite, kReadWrite };
struct Workspace {
  std::string dir;
  WorkspaceMode mode = WorkspaceMode::kCopyOnWrite;
};
inline constexpr const char* kWorkspaceMount = "/work";

// One path of the workspace (relative to it; a directory ends in '/') that differs from the host's.
struct WorkspaceChange {
  enum Kind { kAdded, kModified, kDeleted } kind;
  std::string path;
};

// What to create. `image` is an image directory (scripts/build_image.sh) for `process` and `container`,
// the directory build_microvm.sh printed for `microvm`; `function` needs none. State (sockets, metadata)
// lives under state_root/<id>.
struct SandboxSpec {
  std::string image;
  Limits limits;
  std::string state_root;
  bool persist = false;  // true: outlives the creating process (the CLI); false: dies with it
  // `process` only (the others ignore it): the user namespace its processes run in; std::nullopt runs
  // them as host uid 0 (still without capabilities).
  std::optional<IdMapping> user_namespace = IdMapping{};
  // The directory at /work; `function` confines its tools to it (always read-write: it has no layer).
  std::optional<Workspace> workspace;
};

struct ExecRequest {
  std::vector<std::string> argv;  // run argv[0] (searched in PATH when it has no '/'), or
  std::string shell;              // when non-empty: /bin/sh -c shell
  std::string stdin_data;
  std::vector<std::string> env;                      // "KEY=VALUE"; empty gives PATH, HOME=/root, TERM=dumb
  std::string cwd;                                   // empty: Sandbox::working_dir()
  std::optional<std::chrono::milliseconds> timeout;  // default: Limits::wall_timeout
};

struct ExecResult {
  int exit_code = -1;  // valid when signal == 0
  int signal = 0;      // the signal that ended the command, or 0
  bool timed_out = false;
  std::string stdout_data;
  std::string stderr_data;
  bool stdout_truncated = false;
  bool stderr_truncated = false;
  double wall_seconds = 0;
  double cpu_seconds = 0;         // user + system of the command and the children it waited for
  int64_t peak_memory_bytes = 0;  // largest resident set of the command or a waited-for child
};

class Sandbox {
 public:
  virtual ~Sandbox() = default;
  virtual const std::string& id() const = 0;
  virtual std::string_view substrate() const = 0;
  // Whether exec runs programs (argv, shell lines); `function` runs only its built-in tools.
  virtual bool runs_processes() const = 0;
  // kWorkspaceMount with a workspace, else "/": where commands start and relative paths resolve.
  virtual std::string working_dir() const = 0;
  virtual ExecResult exec(const ExecRequest& request) = 0;
  // Paths are inside the sandbox, relative ones under working_dir(); '..' and symlinks never leave its root.
  virtual void write_file(const std::string& path, std::string_view data, int mode = 0644) = 0;
  virtual std::string read_file(const std::string& path, int64_t max_bytes = int64_t{64} << 20) = 0;
  // Writes an image of the sandbox's current files to `image_dir` (new) and returns that directory;
  // throws "not supported" where the substrate cannot.
  virtual std::string snapshot(const std::string& image_dir) = 0;
  // A copy-on-write workspace's changes, and writing them to its host directory; none for a read-write
  // workspace or none at all. Throws "not supported" where the substrate keeps no layer to read.
  virtual std::vector<WorkspaceChange> workspace_changes() = 0;
  virtual void apply_workspace() = 0;
  // Stops every process and removes the sandbox's state. Idempotent.
  virtual void destroy() = 0;
};

struct SandboxInfo {
  std::string id;
  std::string substrate;
  std::string image;
  bool alive = false;
};

// The substrates, one row each: "function", "process", "container", "microvm".
struct Substrate {
  std::string_view name;
  std::unique_ptr<Sandbox> (*create)(const SandboxSpec& spec);
  std::unique_ptr<Sandbox> (*attach)(const std::string& state_dir);
  bool (*available)(std::string* reason);       // whether this host runs it, and if not, why
  bool (*alive)(const std::string& state_dir);  // whether a sandbox of it still runs
};
const std::vector<Substrate>& substrates();
// The row of `name`; throws naming the substrates there are.
const Substrate& find_substrate(std::string_view name);
std::unique_ptr<Sandbox> create_sandbox(std::string_view substrate, const SandboxSpec& spec);
// Reopens a sandbox created earlier (possibly by another process) from its state directory.
std::unique_ptr<Sandbox> attach_sandbox(const std::string& state_root, const std::string& id);
std::vector<SandboxInfo> list_sandboxes(const std::string& state_root);

}  // namespace baleen::sandbox
