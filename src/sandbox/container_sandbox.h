// The `container` substrate: an OCI bundle (oci_config.h) run by crun (crun.h). The bundle's root is
// the image's read-only layers under a writable layer on a quota-sized tmpfs (writable_layer.h),
// mounted by baleen; a long-lived idle init holds the namespaces and every exec is a `crun exec`.
// Needs root and crun on the host; create throws a clear Error otherwise. A workspace is mounted by baleen
// at the bundle root's /work: an overlay (copy-on-write) or a bind (read-write).
#pragma once

#include "sandbox/sandbox.h"

namespace baleen::sandbox {

// The substrate's row of the table (sandbox.h).
const Substrate& container_substrate();

}  // namespace baleen::sandbox
