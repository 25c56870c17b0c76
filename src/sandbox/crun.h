// Running the `crun` OCI runtime (Debian package `crun`) for the `container` substrate. Every call
// passes the sandbox's own --root, so no state reaches the host's default (/run/crun), and
// --cgroup-manager=disabled: baleen puts crun (and so what it starts) into the sandbox's cgroups
// before crun runs.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "sandbox/cgroup.h"

namespace baleen::sandbox {

class Crun {
 public:
  Crun() = default;
  explicit Crun(std::string state_root) : state_root_(std::move(state_root)) {}

  // The crun binary on PATH, or "" with `reason` set.
  static std::string find(std::string* reason);

  struct Call {
    std::vector<std::string> args;          // after `crun --root R --cgroup-manager=disabled`
    int stdio[3] = {-1, -1, -1};            // -1: /dev/null
    const SandboxCgroup* cgroup = nullptr;  // joined before crun starts
  };
  // Starts crun; returns its pid (the caller reaps it).
  pid_t spawn(const Call& call) const;
  // Runs crun to its end; returns its stdout, throws with its stderr when it fails.
  std::string run(const Call& call) const;

 private:
  std::string state_root_;
};

}  // namespace baleen::sandbox
