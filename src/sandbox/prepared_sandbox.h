// Process sandboxes built ahead of time, so create() only sets the limits, writes sandbox.json and
// lets init serve (~0.1 ms) instead of waiting while init mounts the writable layer, the image's layers,
// /proc, /dev and the workspace, pivots and confines itself (~0.6 ms). An AheadPool (ahead_pool.h)
// builds up to 4 for the spec of the last create, on an init of the init pool (init_pool.h).
//
// Each prepared sandbox serves one create, and a sandbox made from one is the same as one built on
// the spot: its own namespaces, cgroups, tmpfs and overlay, and no command has run in it. Only sandboxes
// that die with this process and have their own network are prepared (a persistent one would outlive
// the process that prepared it; the CLI makes one sandbox per process anyway), and only for a spec that
// matches the one they were built for in everything their root depends on: state root, image, disk
// size, user namespace, workspace, and the cgroup controllers the limits use (the limits themselves are
// set at create). Their state directories hold a `prepared` mark, and no sandbox.json, until taken:
// list_sandboxes does not show them, and the pool removes marked directories nobody serves (left by a
// process killed with its prepared sandboxes) when it first builds in a state root. Those of this process
// go when it exits.
#pragma once

#include <optional>
#include <string>

#include "sandbox/image.h"
#include "sandbox/init_handover.h"
#include "sandbox/sandbox.h"

namespace baleen::sandbox {

struct PreparedSandbox {
  std::string id;
  std::string state_dir;  // absolute, state_root/<id>
  Image image;
  InitHandover init;  // set up: waits for release
};

// One prepared for a spec like `spec`, or nullopt: none is ready (the pool builds some for `spec` now)
// or `spec` is not one to prepare for. The caller sets the cgroup limits, writes the state and releases
// init.
std::optional<PreparedSandbox> take_prepared_sandbox(const SandboxSpec& spec);

}  // namespace baleen::sandbox
