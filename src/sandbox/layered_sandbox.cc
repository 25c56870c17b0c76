#include "sandbox/layered_sandbox.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"
#include "core/log.h"
#include "sandbox/confined_path.h"
#include "sandbox/layer_copy.h"
#include "sandbox/sandbox_state.h"
#include "sandbox/workspace_layer.h"

namespace baleen::sandbox {

nlohmann::json LayeredSandbox::attach_layers(const std::string& state_dir) {
  nlohmann::json state = attach_to(state_dir);
  image_dir_ = state.at("image");
  cgroup_ = SandboxCgroup::from_dirs(state.at("cgroups"), state.at("cgroup_v2"));
  ids_ = ids_from_json(state.value("user_namespace", nlohmann::json()));
  return state;
}

void LayeredSandbox::save_layers_state(const Image& image, nlohmann::json fields) const {
  fields.update(
      {{"cgroups", cgroup_.dirs()}, {"cgroup_v2", cgroup_.v2()}, {"user_namespace", ids_to_json(ids_)}});
  save_state(image.dir, image.hash, std::move(fields));
}

void LayeredSandbox::abandon() noexcept {
  try {
    cgroup_.remove();
  } catch (const Error& e) {
    log::warn("sandbox {}: {}", id_, e.what());
  }
  StatefulSandbox::abandon();
}

void LayeredSandbox::write_file(const std::string& path, std::string_view data, int mode) {
  Fd root = open_dir(Dir::kRoot);
  std::string relative = relative_to_root(in_working_dir(path));
  size_t slash = relative.rfind('/');
  if (slash != std::string::npos)
    make_dirs_confined(root.get(), relative.substr(0, slash), Confinement::kInRoot,
                       ids_ ? std::optional<uint32_t>(ids_->first) : std::nullopt);
  Fd fd = open_confined(root.get(), relative, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode,
                        Confinement::kInRoot);
  write_whole(fd.get(), data, path);
  // We write as host root: inside a user namespace what we create must belong to the sandbox's root, or
  // it would be an unmapped owner that not even the sandbox's root may change.
  struct stat st {};
  bool ok = !ids_ || (::fstat(fd.get(), &st) == 0 &&
                      (ids_->contains(st.st_uid) || ::fchown(fd.get(), ids_->first, ids_->first) == 0));
  check(ok, "cannot give '{}' to the sandbox's root: {}", path, std::strerror(errno));
  ok = ::fchmod(fd.get(), static_cast<mode_t>(mode)) == 0;
  check(ok, "cannot chmod '{}': {}", path, std::strerror(errno));
}

std::string LayeredSandbox::read_file(const std::string& path, int64_t max_bytes) {
  Fd root = open_dir(Dir::kRoot);
  Fd fd = open_confined(root.get(), in_working_dir(path), O_RDONLY, 0, Confinement::kInRoot);
  return read_whole(fd.get(), max_bytes, path);
}

std::string LayeredSandbox::snapshot(const std::string& image_dir) {
  Fd layer = open_dir(Dir::kLayer);
  return write_snapshot_image(image_dir_, fmt::format("/proc/self/fd/{}/upper", layer.get()), image_dir,
                              ids_);
}

std::vector<WorkspaceChange> LayeredSandbox::layer_changes(bool apply) {
  Fd layer = open_dir(Dir::kLayer);
  const std::string upper = fmt::format("/proc/self/fd/{}/workspace-upper", layer.get());
  if (!apply) return workspace_changes_in(upper, workspace_->dir);
  apply_workspace_changes(upper, workspace_->dir);
  return {};
}

}  // namespace baleen::sandbox
