// Fresh network namespaces for `process` sandboxes, made ahead of time. Creating a network
// namespace costs the kernel ~1 ms (every per-namespace subsystem initialises, `lo` registers);
// a background thread pays it between sandbox creations, so create() only passes a descriptor to
// init, which setns()es into it. Each namespace is brand new (only `lo`, up) and handed out once:
// isolation is the same as CLONE_NEWNET's.
#pragma once

#include "agent/sandbox/confined_path.h"

namespace baleen::agent {

// A namespace from the pool (and a signal to make another), or an empty Fd when none is ready or
// this host cannot make them; the caller then clones with CLONE_NEWNET itself.
Fd take_fresh_netns();

}  // namespace baleen::agent
