#include "sandbox/layer_copy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "core/crc32c.h"
#include "core/error.h"
#include "sandbox/confined_path.h"
#include "sandbox/image.h"

namespace baleen::sandbox {

namespace {

namespace fs = std::filesystem;

void copy_opaque_flag(const std::string& from, const std::string& to) {
  char value[8];
  ssize_t n = ::lgetxattr(from.c_str(), "trusted.overlay.opaque", value, sizeof(value));
  if (n > 0) ::lsetxattr(to.c_str(), "trusted.overlay.opaque", value, static_cast<size_t>(n), 0);
}

// Copies one entry (not recursing); returns the bytes that feed the digest.
std::string copy_entry(const std::string& from, const std::string& to, const std::optional<IdMapping>& ids) {
  struct stat st {};
  bool ok = ::lstat(from.c_str(), &st) == 0;
  check(ok, "snapshot: cannot stat '{}': {}", from, std::strerror(errno));
  std::string digest = fmt::format("{:o} {} ", st.st_mode, to);
  if (S_ISDIR(st.st_mode)) {
    ok = ::mkdir(to.c_str(), st.st_mode & 07777) == 0 || errno == EEXIST;
    check(ok, "snapshot: cannot create '{}': {}", to, std::strerror(errno));
    copy_opaque_flag(from, to);
  } else if (S_ISREG(st.st_mode)) {
    Fd in(::open(from.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    check(static_cast<bool>(in), "snapshot: cannot open '{}': {}", from, std::strerror(errno));
    std::string data = read_whole(in.get(), int64_t{1} << 40, from);
    Fd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 07777));
    check(static_cast<bool>(out), "snapshot: cannot create '{}': {}", to, std::strerror(errno));
    write_whole(out.get(), data, to);
    digest += data;
  } else if (S_ISLNK(st.st_mode)) {
    std::string target = fs::read_symlink(from).string();
    ok = ::symlink(target.c_str(), to.c_str()) == 0;
    check(ok, "snapshot: cannot create symlink '{}': {}", to, std::strerror(errno));
    digest += target;
  } else if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
    ok = ::mknod(to.c_str(), S_IFCHR | 0000, makedev(0, 0)) == 0;  // an overlayfs whiteout
    check(ok, "snapshot: cannot create whiteout '{}': {}", to, std::strerror(errno));
  } else {
    return {};  // sockets, fifos and devices are not part of an image
  }
  auto image_id = [&](uint32_t id) { return ids && ids->contains(id) ? id - ids->first : id; };
  ::lchown(to.c_str(), image_id(st.st_uid), image_id(st.st_gid));
  if (!S_ISLNK(st.st_mode)) ::chmod(to.c_str(), st.st_mode & 07777);
  return digest;
}

}  // namespace

uint32_t copy_layer(const std::string& source, const std::string& target,
                    const std::optional<IdMapping>& ids) {
  check(!fs::exists(target), "snapshot: target layer '{}' already exists", target);
  fs::create_directories(target);
  uint32_t digest = 0;
  std::error_code error;
  // Sorted traversal keeps the digest independent of directory order.
  std::vector<std::string> pending{""};
  while (!pending.empty()) {
    std::string relative = pending.back();
    pending.pop_back();
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(source + relative, error)) {
      names.push_back(entry.path().filename().string());
    }
    check(!error, "snapshot: cannot list '{}': {}", source + relative, error.message());
    std::sort(names.rbegin(), names.rend());
    for (const std::string& name : names) {
      std::string child = relative + "/" + name;
      digest = crc32c(copy_entry(source + child, target + child, ids), digest);
      if (fs::is_directory(fs::symlink_status(source + child))) pending.push_back(child);
    }
  }
  return digest;
}

std::string write_snapshot_image(const std::string& parent_image_dir, const std::string& upper,
                                 const std::string& image_dir, const std::optional<IdMapping>& ids) {
  check(!fs::exists(image_dir), "snapshot target '{}' already exists", image_dir);
  Image parent = Image::open(parent_image_dir);
  fs::create_directories(image_dir + "/layers");
  std::vector<std::string> layers;
  for (size_t i = 0; i < parent.layers.size(); ++i) {
    layers.push_back(fmt::format("layers/{}", i));
    fs::create_directory_symlink(parent.layers[i], image_dir + "/" + layers.back());
  }
  layers.push_back(fmt::format("layers/{}", parent.layers.size()));
  uint32_t digest = copy_layer(upper, image_dir + "/" + layers.back(), ids);
  Image::write_manifest(image_dir, fmt::format("{}+snapshot-crc32c:{:08x}", parent.hash, digest), layers);
  return image_dir;
}

}  // namespace baleen::sandbox
