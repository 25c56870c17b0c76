#include "sandbox/prepared_sandbox.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/error.h"
#include "core/log.h"
#include "sandbox/ahead_pool.h"
#include "sandbox/sandbox_state.h"

namespace baleen::sandbox {

namespace {

namespace fs = std::filesystem;

constexpr size_t kPoolSize = 4;
constexpr const char* kPreparedMark = "prepared";

// What a prepared sandbox's root was built from: a spec, compared in what the root depends on.
struct RootKind {
  SandboxSpec spec;
  bool operator==(const RootKind& other) const {
    const SandboxSpec& a = spec;
    const SandboxSpec& b = other.spec;
    auto same_ids = [](const std::optional<IdMapping>& x, const std::optional<IdMapping>& y) {
      return x.has_value() == y.has_value() && (!x || (x->first == y->first && x->count == y->count));
    };
    auto same_workspace = [](const std::optional<Workspace>& x, const std::optional<Workspace>& y) {
      return x.has_value() == y.has_value() && (!x || (x->dir == y->dir && x->mode == y->mode));
    };
    return a.state_root == b.state_root && a.image == b.image && a.limits.disk_bytes == b.limits.disk_bytes &&
           same_cgroup_controllers(a.limits, b.limits) && same_ids(a.user_namespace, b.user_namespace) &&
           same_workspace(a.workspace, b.workspace);
  }
};

bool answers(const std::string& state_dir) {
  sockaddr_un address = control_socket_address(state_dir);
  Fd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  return fd && ::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
}

// Prepared sandboxes' directories whose init is gone (their process was killed before it could
// remove them).
void sweep_abandoned(const std::string& state_root) {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(state_root, error)) {
    std::string dir = entry.path().string();
    if (!fs::exists(entry.path() / kPreparedMark, error) || answers(dir)) continue;
    fs::remove_all(entry.path(), error);
    if (error) log::debug("prepared sandboxes: cannot remove the abandoned {}: {}", dir, error.message());
  }
}

std::optional<PreparedSandbox> prepare(const RootKind& kind) {
  const SandboxSpec& spec = kind.spec;
  static auto* swept = new std::set<std::string>();  // the worker's alone; never destroyed, as the worker
  if (swept->insert(spec.state_root).second) sweep_abandoned(spec.state_root);
  std::string id = new_sandbox_id();
  std::string state_dir = fs::absolute(sandbox_state_dir(spec.state_root, id)).string();
  try {
    Image image = Image::open(spec.image);
    // Not create_directories: a state root removed meanwhile stays removed.
    fs::create_directory(state_dir);
    fs::create_directory(state_dir + "/mnt");
    Fd listener = listen_control_socket(state_dir);
    InitPlan plan = make_plan(image, spec, state_dir);
    plan.listen_fd = listener.get();
    InitHandover init(take_pooled_init(spec.limits), plan);
    std::ofstream(state_dir + "/" + kPreparedMark).flush();  // after listen: a sweep sees it served
    init.await_setup();
    return PreparedSandbox{std::move(id), std::move(state_dir), std::move(image), std::move(init)};
  } catch (const std::exception& e) {
    log::debug("prepared sandboxes: {}; sandboxes of this spec are built when created", e.what());
    std::error_code ignored;
    fs::remove_all(state_dir, ignored);
    return std::nullopt;
  }
}

void discard(PreparedSandbox& sandbox) {
  { InitHandover gone = std::move(sandbox.init); }  // kills init, removes its cgroups
  std::error_code ignored;
  fs::remove_all(sandbox.state_dir, ignored);
}

AheadPool<RootKind, PreparedSandbox>& prepared_pool() {
  static auto* pool = new AheadPool<RootKind, PreparedSandbox>(kPoolSize, kAheadQuiet, &prepare, &discard);
  return *pool;  // never destroyed: stop_at_exit ends its worker
}

}  // namespace

std::optional<PreparedSandbox> take_prepared_sandbox(const SandboxSpec& spec) {
  // A spec create() will refuse (no state root, no image) is not one to prepare for either.
  if (spec.persist || spec.limits.network || spec.state_root.empty() || spec.image.empty()) return std::nullopt;
  if (spec.workspace && spec.workspace->dir.empty()) return std::nullopt;
  RootKind kind{spec};
  kind.spec.state_root = fs::absolute(spec.state_root).lexically_normal().string();
  kind.spec.image = fs::absolute(spec.image).lexically_normal().string();
  if (kind.spec.workspace) kind.spec.workspace->dir = fs::absolute(spec.workspace->dir).lexically_normal().string();
  std::optional<PreparedSandbox> sandbox = prepared_pool().take(kind);
  if (!sandbox) return std::nullopt;
  // The state directory removed, or the image rebuilt, since it was prepared: build one afresh.
  Image image;
  try {
    image = Image::open(spec.image);
  } catch (const Error&) {
    image = Image();
  }
  bool fresh = ::unlink((sandbox->state_dir + "/" + kPreparedMark).c_str()) == 0 &&
               image.hash == sandbox->image.hash && image.layers == sandbox->image.layers;
  if (!fresh) {
    discard(*sandbox);
    return std::nullopt;
  }
  return sandbox;
}

}  // namespace baleen::sandbox
