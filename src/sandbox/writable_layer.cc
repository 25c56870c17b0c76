#include "sandbox/writable_layer.h"

#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace baleen::sandbox {

WritableLayer WritableLayer::plan(const Image& image, int64_t disk_bytes, const std::string& mnt) {
  WritableLayer layer;
  layer.mnt = mnt;
  layer.upper = mnt + "/upper";
  layer.work = mnt + "/work";
  layer.root = mnt + "/root";
  layer.tmpfs_options =
      disk_bytes > 0 ? fmt::format("size={},mode=0755", disk_bytes) : std::string("mode=0755");
  std::string lower;
  for (auto it = image.layers.rbegin(); it != image.layers.rend(); ++it)
    lower += (lower.empty() ? "" : ":") + *it;
  layer.overlay_options = fmt::format("lowerdir={},upperdir={},workdir={}", lower, layer.upper, layer.work);
  check(layer.overlay_options.size() < 4000, "image '{}' has too many layers for one overlay mount",
        image.dir);
  return layer;
}

void WritableLayer::mount() const {
  bool ok = ::mount("tmpfs", mnt.c_str(), "tmpfs", MS_NOSUID, tmpfs_options.c_str()) == 0;
  check(ok, "cannot mount the writable layer's tmpfs on {}: {}", mnt, std::strerror(errno));
  for (const std::string* dir : {&upper, &work, &root}) {
    if (::mkdir(dir->c_str(), 0755) != 0) {
      int error = errno;
      unmount(mnt);
      fail("cannot create {}: {}", *dir, std::strerror(error));
    }
  }
  if (::mount("overlay", root.c_str(), "overlay", MS_NOSUID, overlay_options.c_str()) != 0) {
    int error = errno;
    unmount(mnt);
    fail("cannot mount the overlay root on {}: {}", root, std::strerror(error));
  }
}

void WritableLayer::mount_workspace(const Workspace& workspace) const {
  const std::string target = root + kWorkspaceMount;
  bool ok = ::mkdir(target.c_str(), 0755) == 0 || errno == EEXIST;
  if (ok && workspace.mode == WorkspaceMode::kReadWrite) {
    ok = ::mount(workspace.dir.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) == 0;
  } else if (ok) {
    const std::string upper = mnt + "/workspace-upper", work = mnt + "/workspace-work";
    ok = ::mkdir(upper.c_str(), 0755) == 0 && ::mkdir(work.c_str(), 0755) == 0;
    std::string options = fmt::format("lowerdir={},upperdir={},workdir={}", workspace.dir, upper, work);
    ok = ok && ::mount("overlay", target.c_str(), "overlay", MS_NOSUID, options.c_str()) == 0;
  }
  check(ok, "cannot mount the workspace '{}' on {}: {}", workspace.dir, target, std::strerror(errno));
}

void WritableLayer::unmount(const std::string& mnt) {
  for (const std::string& target : {mnt + "/root" + kWorkspaceMount, mnt + "/root", mnt}) {
    bool ok = ::umount2(target.c_str(), MNT_DETACH) == 0 || errno == EINVAL || errno == ENOENT;
    check(ok, "cannot unmount {}: {}", target, std::strerror(errno));
  }
}

}  // namespace baleen::sandbox
