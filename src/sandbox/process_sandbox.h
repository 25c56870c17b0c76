// The `process` substrate: a Linux sandbox built on kernel mechanisms (sandbox_init.h): namespaces,
// an overlayfs root of the image's read-only layers plus a writable layer on a size-limited tmpfs,
// cgroup limits (rlimits where no cgroup is writable), seccomp, no capabilities, no_new_privs.
// Needs root (CAP_SYS_ADMIN) on the host; create() throws a clear Error otherwise.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>

#include "sandbox/cgroup.h"
#include "sandbox/confined_path.h"
#include "sandbox/sandbox.h"

namespace baleen::sandbox {

class ProcessSandbox : public Sandbox {
 public:
  static std::unique_ptr<Sandbox> create(const SandboxSpec& spec);
  static std::unique_ptr<Sandbox> attach(const std::string& state_dir);
  // Whether this host can run process sandboxes, and if not, why.
  static bool available(std::string* reason);
  // Whether the sandbox's init answers on its control socket.
  static bool alive(const std::string& state_dir);

  ~ProcessSandbox() override;
  const std::string& id() const override { return id_; }
  std::string_view substrate() const override { return "process"; }
  ExecResult exec(const ExecRequest& request) override;
  void write_file(const std::string& path, std::string_view data, int mode) override;
  std::string read_file(const std::string& path, int64_t max_bytes) override;
  std::string snapshot(const std::string& image_dir) override;
  void destroy() override;

 private:
  ProcessSandbox() = default;
  Fd connect() const;
  Fd request_dir(uint32_t op) const;

  std::string id_;
  std::string state_dir_;
  std::string image_dir_;
  Limits limits_;
  std::optional<IdMapping> ids_;  // the user namespace's mapping, if the sandbox has one
  SandboxCgroup cgroup_;
  pid_t init_pid_ = -1;
  bool own_child_ = false;  // init is our child: reap it, and kill it when destroyed
  bool persist_ = false;
  bool destroyed_ = false;
};

}  // namespace baleen::sandbox
