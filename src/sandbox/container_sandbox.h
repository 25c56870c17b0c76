// The `container` substrate: an OCI bundle (oci_config.h) run by crun (crun.h). The bundle's root is
// the image's read-only layers under a writable layer on a quota-sized tmpfs (writable_layer.h),
// mounted by baleen; a long-lived idle init holds the namespaces and every exec is a `crun exec`.
// Needs root and crun on the host; create() throws a clear Error otherwise.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "sandbox/cgroup.h"
#include "sandbox/crun.h"
#include "sandbox/sandbox.h"

namespace baleen::sandbox {

class ContainerSandbox : public Sandbox {
 public:
  static std::unique_ptr<Sandbox> create(const SandboxSpec& spec);
  static std::unique_ptr<Sandbox> attach(const std::string& state_dir);
  // Whether this host can run container sandboxes, and if not, why.
  static bool available(std::string* reason);
  // Whether crun reports the sandbox's init running.
  static bool alive(const std::string& state_dir);

  ~ContainerSandbox() override;
  const std::string& id() const override { return id_; }
  std::string_view substrate() const override { return "container"; }
  ExecResult exec(const ExecRequest& request) override;
  void write_file(const std::string& path, std::string_view data, int mode) override;
  std::string read_file(const std::string& path, int64_t max_bytes) override;
  std::string snapshot(const std::string& image_dir) override;
  void destroy() override;

 private:
  ContainerSandbox() = default;
  int open_root() const;
  // Kills every process of the sandbox but its init (a timeout), as init's kill(-1) would.
  void kill_commands() const;

  std::string id_;
  std::string state_dir_;
  std::string image_dir_;
  Limits limits_;
  SandboxCgroup cgroup_;
  Crun crun_;
  bool persist_ = false;
  bool destroyed_ = false;
};

}  // namespace baleen::sandbox
