// The init of a `process` sandbox: the first process in its new mount/pid/net/ipc/uts namespaces.
// It builds the root (tmpfs quota, overlayfs of the image layers, /proc, /dev, pivot_root), then serves
// init_protocol requests, spawning each command under dropped capabilities, no_new_privs and the
// seccomp filter. It is its own small static program (baleen-sandbox-init, sandbox_init_main.cc)
// that the creator execs into the new namespaces posix_spawn-style, so a sandbox never holds a copy
// of the creator's memory (init_pool.h, which starts some ahead of time). The creator prepares the
// plan and sends it encoded on `channel`; once the plan is decoded, init makes system calls only
// (no allocation, no exceptions).
#pragma once

#include "sandbox/init_plan.h"

namespace baleen::sandbox {

// own_network: init was cloned into a new network namespace and brings its `lo` up.
[[noreturn]] void run_sandbox_init(int channel, bool own_network);

}  // namespace baleen::sandbox
