// What the overlay-based substrates (process, container) share beyond StatefulSandbox: the file API over
// the sandbox's root (openat2 RESOLVE_IN_ROOT, so '..' and absolute symlinks stay inside), snapshots of the
// writable layer and the workspace's layer (workspace_layer.h), all through directories the substrate
// opens: the process substrate gets them from its init, the container substrate's are host mounts.
#pragma once

#include <optional>
#include <string>

#include "core/fd.h"
#include "sandbox/cgroup.h"
#include "sandbox/image.h"
#include "sandbox/stateful_sandbox.h"

namespace baleen::sandbox {

class LayeredSandbox : public StatefulSandbox {
 public:
  using StatefulSandbox::StatefulSandbox;

  void write_file(const std::string& path, std::string_view data, int mode) override;
  std::string read_file(const std::string& path, int64_t max_bytes) override;
  std::string snapshot(const std::string& image_dir) override;

  // Reads sandbox.json (StatefulSandbox::attach_to) and the fields below from it; returns it.
  nlohmann::json attach_layers(const std::string& state_dir);
  // Writes sandbox.json with the cgroups and the user namespace besides the substrate's `fields`.
  void save_layers_state(const Image& image, nlohmann::json fields) const;
  // A failed create: removes the cgroups too (StatefulSandbox::abandon).
  void abandon() noexcept;

  std::string image_dir_;
  SandboxCgroup cgroup_;
  // The user namespace's mapping (process): its root owns what write_file creates, and a snapshot holds
  // the image's ids instead of the mapped host ids.
  std::optional<IdMapping> ids_;

 protected:
  enum class Dir {
    kRoot,   // the sandbox's `/`
    kLayer,  // the writable layer's tmpfs: upper/, and workspace-upper/ with a copy-on-write workspace
  };
  virtual Fd open_dir(Dir dir) const = 0;
  std::vector<WorkspaceChange> layer_changes(bool apply) override;
};

}  // namespace baleen::sandbox
