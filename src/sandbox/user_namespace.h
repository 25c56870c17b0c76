// The user namespace `process` sandboxes run in (docs/SANDBOX.md "User namespace"): ids 0..count-1
// inside are the host's first..first+count-1, setgroups is denied. The creator makes one per mapping
// and process, and every sandbox's init joins it once its mounts are built. Sandboxes sharing a
// mapping share host ids whatever namespace object they hold, so separate namespaces would isolate
// nothing more; sharing one spares each sandbox the creator<->init round trip of writing the maps.
#pragma once

#include "sandbox/sandbox.h"

namespace baleen::sandbox {

// A descriptor of the namespace for `mapping`, open for the life of the process (do not close it).
// Throws when the kernel refuses (no user namespaces, user.max_user_namespaces = 0, not root).
int mapped_user_namespace(const IdMapping& mapping);

}  // namespace baleen::sandbox
