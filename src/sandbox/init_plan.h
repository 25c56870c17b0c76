// What the creator of a `process` sandbox hands its init (sandbox_init.h): the plan, prepared by the
// creator because init does not allocate, its wire format (init runs as its own program and reads
// the plan from its channel, init_pool.h), and the status init reports back.
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace baleen::sandbox {

struct InitPlan {
  std::string mnt;                  // host directory the sandbox's tmpfs is mounted on
  std::string tmpfs_options;        // "size=...,mode=0755"
  std::string upper, work, root;    // directories inside mnt
  std::string overlay_options;      // lowerdir=...,upperdir=...,workdir=...
  std::vector<std::string> lowers;  // the image's layer directories (lowerdir's entries)
  std::string root_proc, root_proc_sys, root_sysrq, root_dev;
  std::string dev_options;             // the /dev tmpfs's: size, mode, owner
  std::vector<std::string> dev_nodes;  // root/dev/<name> for null, zero, full, random, urandom, tty
  std::vector<unsigned> dev_numbers;   // makedev numbers, same order
  // With a workspace (sandbox.h), the host directory `workspace` at root_workspace: copy-on-write as an
  // overlay (workspace_options: its lowerdir, and upperdir/workdir on the tmpfs), read-write as a bind
  // (workspace_options empty).
  std::string workspace, root_workspace, workspace_upper, workspace_work, workspace_options;
  bool die_with_parent = true;
  // With user_namespace, init joins the user namespace (user_namespace.h) once the root is built; the
  // layers are then mounted idmapped and the writable layer owned by host_root_id, the host uid and
  // gid of the sandbox's root.
  bool user_namespace = false;
  uint32_t host_root_id = 0;
  std::vector<sock_filter> seccomp;
  int cap_last = 63;  // /proc/sys/kernel/cap_last_cap: capabilities to drop are 0..cap_last
  // Not in the wire format: descriptors that come with it (SCM_RIGHTS), in this order.
  int listen_fd = -1;  // bound, listening control socket
  int userns_fd = -1;  // with user_namespace
};

// The plan's wire format from creator to init (native byte order: both run on this host). The
// creator sends it as one message on the init's channel (init_pool.h) with listen_fd and userns_fd;
// init answers on the channel with an InitStatus.
std::string encode_init_plan(const InitPlan& plan);
bool decode_init_plan(std::string_view bytes, InitPlan* plan);

// What init reports on its channel: step 0 when ready, else the step that failed and its errno.
struct InitStatus {
  int32_t step;
  int32_t error;
};

// Steps of init's setup, reported on failure; kStartProgram is the creator's (execve of the program).
enum InitStep : int32_t {
  kReady = 0,
  kPlan,
  kPrivate,
  kTmpfs,
  kDirs,
  kOverlay,
  kProc,
  kProcSys,
  kSysrq,
  kDev,
  kPivot,
  kLoopback,
  kSignals,
  kFds,
  kIdmap,
  kUserns,
  kConfine,
  kWorkspace,
  kStartProgram,
};

// Names the step an InitStatus refers to.
const char* init_step_name(int step);

}  // namespace baleen::sandbox
