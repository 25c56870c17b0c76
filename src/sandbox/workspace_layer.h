// The copy-on-write layer of a workspace (sandbox.h): an overlayfs upper directory over the host
// directory. Lists what the sandbox changed, and applies it to the host directory, reading overlayfs's
// marks: a whiteout (a 0:0 character device) deletes, an opaque directory (trusted.overlay.opaque)
// replaces the host's. A file copied up but left byte-for-byte the same is no change. Applied files get
// the upper file's mode and the owner of the workspace directory; a host symlink never leads apply
// outside the workspace (an entry of another type is replaced, not followed).
#pragma once

#include <string>
#include <vector>

#include "sandbox/sandbox.h"

namespace baleen::sandbox {

// `upper` is a path (may be /proc/self/fd/N); changes come sorted by path.
std::vector<WorkspaceChange> workspace_changes_in(const std::string& upper, const std::string& host_dir);
void apply_workspace_changes(const std::string& upper, const std::string& host_dir);

}  // namespace baleen::sandbox
