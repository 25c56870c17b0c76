// Handing a started init (init_pool.h) what makes it one sandbox's: the plan (init_plan.h) made from
// the image and the spec, the control socket it will serve on, and then the wait while it builds the
// root. The process substrate does this in create(), or ahead of time for a prepared sandbox
// (prepared_sandbox.h).
#pragma once

#include <sys/types.h>
#include <sys/un.h>

#include <string>
#include <vector>

#include "core/fd.h"
#include "sandbox/cgroup.h"
#include "sandbox/image.h"
#include "sandbox/init_plan.h"
#include "sandbox/init_pool.h"
#include "sandbox/sandbox.h"

namespace baleen::sandbox {

// state_dir/control.sock, where a sandbox's init accepts requests.
sockaddr_un control_socket_address(const std::string& state_dir);
// A bound, listening control socket for init to inherit.
Fd listen_control_socket(const std::string& state_dir);
// One message on a SOCK_SEQPACKET socket with descriptors passed beside it (SCM_RIGHTS).
void send_message(int fd, const std::vector<char>& data, const std::vector<int>& fds);

// Everything init needs, prepared here because init cannot allocate; listen_fd is the caller's.
InitPlan make_plan(const Image& image, const SandboxSpec& spec, const std::string& state_dir);

// One init from its plan to serving. The constructor hands it the plan with the control socket and the
// user namespace; init builds the root meanwhile, and the creator may set the cgroup limits (a pooled
// init is in its cgroups already; else they are made and init joins them) and write the state.
// `await_setup` waits for init's report and `release` lets it serve: no command can run before init is
// in its limited cgroups. An init never released is killed (and its pooled cgroups removed). (Setup's
// own kernel memory may be charged to the creator's cgroup.)
class InitHandover {
 public:
  InitHandover(StartedInit init, const InitPlan& plan);
  InitHandover(InitHandover&& other) noexcept;
  InitHandover& operator=(InitHandover&& other) noexcept;
  InitHandover(const InitHandover&) = delete;
  InitHandover& operator=(const InitHandover&) = delete;
  ~InitHandover();

  pid_t pid() const { return init_.pid; }

  // The sandbox's cgroups, limited, with init in them (a pooled init's, else made now for `id`).
  SandboxCgroup cgroup(const std::string& id, const Limits& limits);
  // Waits until init has built the root; throws naming the step that failed.
  void await_setup();
  // Tells init to serve.
  void release();

 private:
  [[noreturn]] static void abandon(const std::string& why);
  void kill_init();
  void end();  // kills an init not released

  StartedInit init_;
  bool done_ = false;  // released, or nothing left to kill
};

}  // namespace baleen::sandbox
