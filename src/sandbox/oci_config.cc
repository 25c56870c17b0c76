#include "sandbox/oci_config.h"

#include <cerrno>

#include "sandbox/exec_command.h"
#include "sandbox/seccomp_filter.h"

namespace baleen::sandbox {

namespace {

// Pid 1 only reaps: `wait` (waitpid(-1)) collects every orphan of the commands, which would
// otherwise stay zombies and count against the pids limit. It ignores SIGTERM; kill -9 from
// inside the sandbox cannot reach a pid-namespace init.
const char* const kInitScript = "trap '' TERM INT HUP; while :; do sleep 3600 & wait; done";

nlohmann::json seccomp_section() {
  nlohmann::json rules = nlohmann::json::array();
  rules.push_back({{"names", sandbox_eperm_syscalls()}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", EPERM}});
  rules.push_back({{"names", {"clone3"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", ENOSYS}});
  // One rule per flag: the arguments of one rule are ANDed, the rules are ORed.
  uint64_t flags = sandbox_clone_namespace_flags();
  for (uint64_t flag = 1; flag != 0; flag <<= 1) {
    if ((flags & flag) == 0) continue;
    rules.push_back(
        {{"names", {"clone"}},
         {"action", "SCMP_ACT_ERRNO"},
         {"errnoRet", EPERM},
         {"args", {{{"index", 0}, {"value", flag}, {"valueTwo", flag}, {"op", "SCMP_CMP_MASKED_EQ"}}}}});
  }
  // Only the native ABI is listed: calls of other ABIs (i386, x32) kill the process.
  return {{"defaultAction", "SCMP_ACT_ALLOW"}, {"architectures", {"SCMP_ARCH_X86_64"}}, {"syscalls", rules}};
}

nlohmann::json rlimits(const OciConfigInput& input) {
  nlohmann::json list = {{{"type", "RLIMIT_CORE"}, {"hard", 0}, {"soft", 0}},
                         {{"type", "RLIMIT_NOFILE"}, {"hard", 4096}, {"soft", 4096}}};
  if (!input.memory_cgroup && input.limits.memory_bytes > 0) {
    list.push_back(
        {{"type", "RLIMIT_AS"}, {"hard", input.limits.memory_bytes}, {"soft", input.limits.memory_bytes}});
  }
  return list;
}

nlohmann::json empty_capabilities() {
  nlohmann::json none = nlohmann::json::array();
  return {
      {"bounding", none}, {"effective", none}, {"inheritable", none}, {"permitted", none}, {"ambient", none}};
}

}  // namespace

nlohmann::json oci_config(const OciConfigInput& input) {
  nlohmann::json namespaces = {{{"type", "pid"}}, {{"type", "mount"}}, {{"type", "ipc"}}, {{"type", "uts"}}};
  if (!input.limits.network) namespaces.push_back({{"type", "network"}});  // crun brings up `lo`
  nlohmann::json process = {
      {"terminal", false},
      {"user", {{"uid", 0}, {"gid", 0}}},
      {"args", {"/bin/sh", "-c", kInitScript}},
      {"env", default_exec_env()},
      {"cwd", "/"},
      {"capabilities", empty_capabilities()},
      {"rlimits", rlimits(input)},
      {"noNewPrivileges", true},
  };
  // The same view as the process substrate: /proc of its own pid namespace, a small /dev with
  // crun's default nodes (null, zero, full, random, urandom, tty), no /sys.
  nlohmann::json mounts = {
      {{"destination", "/proc"},
       {"type", "proc"},
       {"source", "proc"},
       {"options", {"nosuid", "noexec", "nodev"}}},
      {{"destination", "/dev"},
       {"type", "tmpfs"},
       {"source", "tmpfs"},
       {"options", {"nosuid", "noexec", "strictatime", "mode=755", "size=64k"}}},
  };
  nlohmann::json linux_section = {
      {"namespaces", namespaces},
      {"maskedPaths",
       {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
        "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/proc/sysrq-trigger", "/sys/firmware"}},
      {"readonlyPaths", {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys"}},
      {"seccomp", seccomp_section()},
  };
  return {{"ociVersion", "1.0.2"},      {"root", {{"path", input.rootfs}, {"readonly", false}}},
          {"hostname", input.hostname}, {"process", process},
          {"mounts", mounts},           {"linux", linux_section}};
}

}  // namespace baleen::sandbox
