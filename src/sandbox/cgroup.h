// The cgroups of one sandbox: memory, pids and CPU limits, v2 where the host delegates the
// controllers, else v1 (one hierarchy per controller). Created beneath the calling process's own
// cgroup (…/baleen/<id>), so a sandbox never escapes the limits its creator runs under.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "sandbox/sandbox.h"

namespace baleen::sandbox {

class SandboxCgroup {
 public:
  SandboxCgroup() = default;
  // Creates (make) and configures (limit) the cgroups named `name`; an object with no dirs when the
  // host offers none writable (the caller falls back to rlimits).
  static SandboxCgroup create(const std::string& name, const Limits& limits);
  // Creates the cgroups of the controllers `limits` needs, without setting the limits.
  static SandboxCgroup make(const std::string& name, const Limits& limits);
  void limit(const Limits& limits) const;
  // Removes every empty cgroup beneath ours (…/baleen/*) older than a minute: what a process that
  // exited left for its reaper, or pooled for inits that died with it. A sandbox's cgroup is never
  // empty once its init is in it.
  static void remove_unused();
  // The cgroups recorded earlier (attach from another process).
  static SandboxCgroup from_dirs(std::vector<std::string> dirs, bool v2);

  bool limits_memory() const;
  bool limits_pids() const;
  const std::vector<std::string>& dirs() const { return dirs_; }
  bool v2() const { return v2_; }

  // Moves `pid` into every cgroup of the sandbox.
  void add(pid_t pid) const;
  // Peak memory use of the whole sandbox so far, or 0 when unknown.
  int64_t peak_memory_bytes() const;
  // Removes the cgroups once their processes are gone (waits up to ~2 s for them to exit).
  void remove();
  // The same on a background thread, for cgroups whose processes are known dead (reaped); what is
  // pending when the process exits, the next pool start removes (remove_unused).
  void remove_later();

 private:
  static std::vector<std::pair<std::string, std::string>> bases(bool* v2);

  std::vector<std::string> dirs_;
  bool v2_ = false;
};

}  // namespace baleen::sandbox
