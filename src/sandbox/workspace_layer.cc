#include "sandbox/workspace_layer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "sandbox/confined_path.h"

namespace baleen::sandbox {

namespace {

namespace fs = std::filesystem;

bool is_whiteout(const struct stat& st) {
  return S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
}

bool is_opaque(const std::string& dir) {
  char value[2] = {};
  return ::lgetxattr(dir.c_str(), "trusted.overlay.opaque", value, sizeof(value)) == 1 && value[0] == 'y';
}

std::string contents(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  check(static_cast<bool>(fd), "workspace: cannot open '{}': {}", path, std::strerror(errno));
  return read_whole(fd.get(), int64_t{1} << 40, path);
}

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// One walk for both directions: `change` sees each change with the upper and host paths; with
// `apply`, the host tree is made to match the upper one on the way down (a host entry of another type
// than the upper one is removed first, so the walk never descends through a host symlink).
class LayerWalk {
 public:
  LayerWalk(std::string host_dir, bool apply) : host_dir_(std::move(host_dir)), apply_(apply) {
    struct stat st {};
    check(::stat(host_dir_.c_str(), &st) == 0 && S_ISDIR(st.st_mode), "workspace '{}' is not a directory",
          host_dir_);
    owner_uid_ = st.st_uid;
    owner_gid_ = st.st_gid;
  }

  void walk(const std::string& upper, const std::string& relative) {
    const std::string host = relative.empty() ? host_dir_ : host_dir_ + "/" + relative;
    if (!relative.empty() && is_opaque(upper) && fs::is_directory(fs::symlink_status(host))) {
      for (const std::string& name : names_in(host)) {
        if (!fs::exists(fs::symlink_status(upper + "/" + name)))
          remove(relative + "/" + name, host + "/" + name);
      }
    }
    for (const std::string& name : names_in(upper)) {
      entry(upper + "/" + name, relative.empty() ? name : relative + "/" + name);
    }
  }

  std::vector<WorkspaceChange> changes;

 private:
  void entry(const std::string& upper, const std::string& relative) {
    const std::string host = host_dir_ + "/" + relative;
    struct stat st {};
    check(::lstat(upper.c_str(), &st) == 0, "workspace: cannot stat '{}': {}", upper, std::strerror(errno));
    const fs::file_status on_host = fs::symlink_status(host);
    if (is_whiteout(st)) {
      if (fs::exists(on_host)) remove(relative, host);
      return;
    }
    const bool same_type = fs::exists(on_host) && ((S_ISDIR(st.st_mode) && fs::is_directory(on_host)) ||
                                                   (S_ISREG(st.st_mode) && fs::is_regular_file(on_host)) ||
                                                   (S_ISLNK(st.st_mode) && fs::is_symlink(on_host)));
    if (S_ISDIR(st.st_mode)) {
      if (!same_type) {
        record(WorkspaceChange::kAdded, relative + "/");
        if (apply_) {
          if (fs::exists(on_host)) fs::remove_all(host);
          fs::create_directory(host);
          own(host);
        }
      }
      walk(upper, relative);
      return;
    }
    if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) return;  // fifos, sockets, devices stay inside
    const bool changed =
        !same_type || (S_ISREG(st.st_mode) ? contents(upper) != contents(host)
                                           : fs::read_symlink(upper) != fs::read_symlink(host));
    if (!changed) return;
    record(same_type ? WorkspaceChange::kModified : WorkspaceChange::kAdded, relative);
    if (!apply_) return;
    if (fs::exists(on_host) && !(same_type && S_ISREG(st.st_mode))) fs::remove_all(host);
    if (S_ISLNK(st.st_mode)) {
      fs::create_symlink(fs::read_symlink(upper), host);
      ::lchown(host.c_str(), owner_uid_, owner_gid_);
      return;
    }
    Fd out(::open(host.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, st.st_mode & 0777));
    check(static_cast<bool>(out), "workspace: cannot write '{}': {}", host, std::strerror(errno));
    write_whole(out.get(), contents(upper), host);
    if (!same_type) own(host);
    ::fchmod(out.get(), st.st_mode & 07777);
  }

  void remove(const std::string& relative, const std::string& host) {
    record(WorkspaceChange::kDeleted, relative);
    if (apply_) fs::remove_all(host);
  }

  void record(WorkspaceChange::Kind kind, const std::string& relative) {
    changes.push_back({kind, relative});
  }

  void own(const std::string& host) const {
    check(::lchown(host.c_str(), owner_uid_, owner_gid_) == 0, "workspace: cannot chown '{}': {}", host,
          std::strerror(errno));
  }

  std::string host_dir_;
  bool apply_;
  uid_t owner_uid_ = 0;
  gid_t owner_gid_ = 0;
};

std::vector<WorkspaceChange> walk_layer(const std::string& upper, const std::string& host_dir, bool apply) {
  LayerWalk walk(host_dir, apply);
  walk.walk(upper, "");
  std::sort(walk.changes.begin(), walk.changes.end(),
            [](const auto& a, const auto& b) { return a.path < b.path; });
  return walk.changes;
}

}  // namespace

std::vector<WorkspaceChange> workspace_changes_in(const std::string& upper, const std::string& host_dir) {
  return walk_layer(upper, host_dir, false);
}

void apply_workspace_changes(const std::string& upper, const std::string& host_dir) {
  walk_layer(upper, host_dir, true);
}

}  // namespace baleen::sandbox
