// The OCI runtime spec (1.0) config.json of a `container` sandbox: an idle init on the overlay root,
// pid/mount/ipc/uts namespaces (+ network unless Limits::network), no capabilities, no_new_privs,
// the process substrate's seccomp policy, read-only/masked /proc paths, rlimits. cgroups are not in
// it: baleen places crun's processes in its own sandbox cgroups (cgroup.h; container_sandbox.cc says why).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "sandbox/sandbox.h"

namespace baleen::sandbox {

struct OciConfigInput {
  std::string rootfs;    // absolute path of the merged overlay root
  std::string hostname;  // the sandbox id
  Limits limits;
  bool memory_cgroup = false;  // false: RLIMIT_AS of limits.memory_bytes stands in for it
};

nlohmann::json oci_config(const OciConfigInput& input);

}  // namespace baleen::sandbox
