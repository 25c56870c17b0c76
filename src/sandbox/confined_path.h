// Opening files by a path that must stay inside a root directory, enforced by the kernel (openat2
// RESOLVE_BENEATH / RESOLVE_IN_ROOT), so '..', absolute symlinks and magic links cannot leave the
// root. A leading '/' names the root itself. Errors throw baleen::Error naming the path.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/fd.h"

namespace baleen::sandbox {

enum class Confinement {
  kBeneath,  // any resolution that would leave the root fails (function substrate)
  kInRoot,   // the root acts as '/' for '..' and absolute symlinks, like chroot (a sandbox's rootfs)
};

// The path made relative to the root: leading '/' removed, "" becomes ".".
std::string relative_to_root(std::string_view path);

// openat2(root_fd, path, flags, mode) confined as asked; never follows magic links (/proc/*/fd).
Fd open_confined(int root_fd, std::string_view path, int flags, int mode, Confinement confinement);

// Creates the directories of `dir` that do not exist yet, each step confined; those it creates are
// given to `owner` (as uid and gid) when one is named.
void make_dirs_confined(int root_fd, std::string_view dir, Confinement confinement,
                        std::optional<uint32_t> owner = std::nullopt);

// Reads at most max_bytes from an open file; throws when the file is larger.
std::string read_whole(int fd, int64_t max_bytes, std::string_view what);
void write_whole(int fd, std::string_view data, std::string_view what);

}  // namespace baleen::sandbox
