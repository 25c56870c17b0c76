// The init of a `process` sandbox: the first process in its new mount/pid/net/ipc/uts namespaces.
// It builds the root (tmpfs quota, overlayfs of the image layers, /proc, /dev, pivot_root), then serves
// init_protocol requests, forking each command under dropped capabilities, no_new_privs and the
// seccomp filter. It runs in a child cloned from a possibly multi-threaded process, so it makes
// system calls only: no allocation, no locks, no exceptions. Everything it needs is in the plan.
#pragma once

#include <linux/filter.h>

#include <string>
#include <vector>

#include "agent/sandbox/init_protocol.h"

namespace baleen::agent {

struct InitPlan {
  std::string mnt;              // host directory the sandbox's tmpfs is mounted on
  std::string tmpfs_options;    // "size=...,mode=0755"
  std::string upper, work, root;  // directories inside mnt
  std::string overlay_options;  // lowerdir=...,upperdir=...,workdir=...
  std::string root_proc, root_proc_sys, root_sysrq, root_dev;
  std::vector<std::string> dev_nodes;  // root/dev/<name> for null, zero, full, random, urandom, tty
  std::vector<unsigned> dev_numbers;   // makedev numbers, same order
  int listen_fd = -1;           // bound, listening control socket
  int ready_fd = -1;            // write end: init reports InitStatus
  int go_fd = -1;               // read end: the creator writes one byte once init is in its cgroups
  bool new_net = true;
  bool die_with_parent = true;
  std::vector<sock_filter> seccomp;
  int cap_last = 63;            // /proc/sys/kernel/cap_last_cap: capabilities to drop are 0..cap_last
};

// What init reports on ready_fd: step 0 when ready, else the step that failed and its errno.
struct InitStatus {
  int32_t step;
  int32_t error;
};

// Names the step an InitStatus refers to.
const char* init_step_name(int step);

[[noreturn]] void run_sandbox_init(InitPlan& plan);

}  // namespace baleen::agent
