// The `process` substrate: a Linux sandbox built on kernel mechanisms (sandbox_init.h): namespaces,
// an overlayfs root of the image's read-only layers plus a writable layer on a size-limited tmpfs,
// cgroup limits (rlimits where no cgroup is writable), seccomp, no capabilities, no_new_privs.
// Needs root (CAP_SYS_ADMIN) on the host; create throws a clear Error otherwise. A workspace is an
// overlay (copy-on-write) or a bind (read-write) at /work, idmapped like the image in a user namespace.
#pragma once

#include "sandbox/sandbox.h"

namespace baleen::sandbox {

// The substrate's row of the table (sandbox.h).
const Substrate& process_substrate();

}  // namespace baleen::sandbox
