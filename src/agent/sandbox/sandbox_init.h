// The init of a `process` sandbox: the first process in its new mount/pid/net/ipc/uts namespaces.
// It builds the root (tmpfs quota, overlayfs of the image layers, /proc, /dev, pivot_root), then serves
// init_protocol requests, spawning each command under dropped capabilities, no_new_privs and the
// seccomp filter. It is its own small static program (baleen-sandbox-init, sandbox_init_main.cc)
// that the creator execs into the new namespaces posix_spawn-style, so a sandbox never holds a copy
// of the creator's memory; the creator prepares the plan and passes it encoded on a pipe. Init
// itself makes system calls only (no allocation, no exceptions) once it runs.
#pragma once

#include "agent/sandbox/init_plan.h"

namespace baleen::agent {

[[noreturn]] void run_sandbox_init(InitPlan& plan);

}  // namespace baleen::agent
