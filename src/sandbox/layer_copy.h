// Copying an overlayfs writable layer into a new image layer, keeping what overlayfs reads from it:
// whiteouts (0:0 character devices), opaque directories (trusted.overlay.opaque), modes, owners and
// symlinks. Used by the snapshots of the overlay-based substrates (process, container).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "sandbox/sandbox.h"

namespace baleen::sandbox {

// Copies the tree under `source` (a path; may be /proc/self/fd/N) to the new directory `target`.
// Owners in the host range of `ids` (a user namespace's writable layer) are written as the ids they
// are inside (host id - first), the ids an image holds. Returns a CRC-32C digest over every copied
// path, type, mode and byte.
uint32_t copy_layer(const std::string& source, const std::string& target,
                    const std::optional<IdMapping>& ids);

// Writes a new image at `image_dir` (which must not exist): the parent image's layers (absolute
// symlinks: the parent must stay) under a copy of the writable layer `upper`, hashed
// "<parent hash>+snapshot-crc32c:<digest>". Returns image_dir.
std::string write_snapshot_image(const std::string& parent_image_dir, const std::string& upper,
                                 const std::string& image_dir, const std::optional<IdMapping>& ids);

}  // namespace baleen::sandbox
