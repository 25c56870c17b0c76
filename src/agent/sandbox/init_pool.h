// Starting the init of a `process` sandbox (sandbox_init.h), and a pool of inits started ahead of
// time. Everything before an init reads its plan is the same for every sandbox without host
// network: the clone of new mount/pid/ipc/uts/network namespaces (~1 ms of kernel work, most of it
// the network namespace), the execve of baleen-sandbox-init and its C library start-up (cpuid
// probing, slow in a VM), bringing `lo` up. A background thread does that for up to 4 inits, so
// create() only hands one its plan. Each pooled init, and its namespaces, serves exactly one sandbox:
// isolation is that of a fresh clone.
#pragma once

#include <sys/types.h>

#include <string>

#include "agent/sandbox/confined_path.h"

namespace baleen::agent {

// Where baleen-sandbox-init is: $BALEEN_SANDBOX_INIT, else beside this executable (an installed
// layout), else where the build put it. Empty when none exists.
const std::string& init_program();

// An init that has started and waits for its plan on `channel` (a SOCK_SEQPACKET socket).
struct StartedInit {
  pid_t pid = -1;
  Fd channel;
};

// Starts an init now; with own_network it gets a new network namespace (only `lo`, up), else it
// shares ours. Throws when it cannot start.
StartedInit start_init_program(bool own_network);

// An init with its own network namespace from the pool, or one started now when none is ready.
// Sandboxes of this process only: a forked child starts its own.
StartedInit take_pooled_init();

}  // namespace baleen::agent
