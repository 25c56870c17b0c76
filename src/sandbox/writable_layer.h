// The writable layer of an image-based sandbox: a tmpfs of the disk quota at `mnt` holding the
// overlayfs upper/ and work/ dirs, and the overlayfs root (the image's read-only layers under
// upper/) at mnt/root. A new sandbox costs only this tmpfs; the layers are shared. The `process`
// substrate mounts it inside its init's namespace, `container` in the host's for crun's bundle.
#pragma once

#include <cstdint>
#include <string>

#include "sandbox/image.h"
#include "sandbox/sandbox.h"

namespace baleen::sandbox {

struct WritableLayer {
  std::string mnt, upper, work, root;
  std::string tmpfs_options;    // size=<disk quota>
  std::string overlay_options;  // lowerdir (top layer first), upperdir, workdir

  // The paths and mount options for `image` (throws when the layers do not fit one mount).
  static WritableLayer plan(const Image& image, int64_t disk_bytes, const std::string& mnt);

  // Mounts the tmpfs and the overlay in the calling process's mount namespace.
  void mount() const;
  // Mounts `workspace` at root/work (sandbox.h): copy-on-write as an overlay whose layer is
  // mnt/workspace-upper, read-write as a bind. After mount().
  void mount_workspace(const Workspace& workspace) const;
  // Detaches every mount; a missing mount is not an error (idempotent).
  static void unmount(const std::string& mnt);
};

}  // namespace baleen::sandbox
