// Copying an overlayfs writable layer into a new image layer, keeping what overlayfs reads from it:
// whiteouts (0:0 character devices), opaque directories (trusted.overlay.opaque), modes, owners and
// symlinks. Used by process-sandbox snapshots.
#pragma once

#include <cstdint>
#include <string>

namespace baleen::agent {

// Copies the tree under `source` (a path; may be /proc/self/fd/N) to the new directory `target`.
// Returns a CRC-32C digest over every copied path, type, mode and byte.
uint32_t copy_layer(const std::string& source, const std::string& target);

}  // namespace baleen::agent
