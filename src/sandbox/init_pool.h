// Starting the init of a `process` sandbox (sandbox_init.h), and a pool of inits started ahead of
// time. Everything before an init reads its plan is the same for every sandbox without host
// network: the clone of new mount/pid/ipc/uts/network namespaces (~1 ms of kernel work, most of it
// the network namespace), the execve of baleen-sandbox-init and its C library start-up (cpuid
// probing, slow in a VM), bringing `lo` up, and joining cgroups (cgroup.procs waits for an RCU
// grace period, ~10 ms on an idle VM) - the cgroups of the controllers the last sandbox used, made
// without limits. An AheadPool (ahead_pool.h) does that for up to 4 inits, so create() only writes
// the limits and hands one its plan (or takes a sandbox prepared on one, prepared_sandbox.h). Each
// pooled init, its namespaces and cgroups serve exactly one sandbox: isolation is that of a fresh
// clone.
#pragma once

#include <sys/types.h>

#include <string>

#include "sandbox/cgroup.h"
#include "sandbox/confined_path.h"

namespace baleen::sandbox {

// Where baleen-sandbox-init is: $BALEEN_SANDBOX_INIT, else beside this executable (an installed
// layout), else where the build put it. Empty when none exists.
const std::string& init_program();

// An init that has started and waits for its plan on `channel` (a SOCK_SEQPACKET socket); a pooled
// one is already in `cgroup` (no limits set yet), else that has no dirs.
struct StartedInit {
  pid_t pid = -1;
  Fd channel;
  SandboxCgroup cgroup;
};

// Starts an init now; with own_network it gets a new network namespace (only `lo`, up), else it
// shares ours. Throws when it cannot start.
StartedInit start_init_program(bool own_network);

// An init with its own network namespace from the pool, in cgroups of the controllers `limits`
// needs, or one started now (in no cgroup) when none is ready. Sandboxes of this process only: a
// forked child starts its own.
StartedInit take_pooled_init(const Limits& limits);

// Whether sandboxes with these limits use the same cgroup controllers (memory, pids, CPU), so one's
// pooled cgroups fit the other.
bool same_cgroup_controllers(const Limits& a, const Limits& b);

}  // namespace baleen::sandbox
