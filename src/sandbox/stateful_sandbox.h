// What every substrate shares (sandbox.h): its name, an identity, a state directory state_root/<id>
// holding sandbox.json (sandbox_state.h), limits, the workspace, and the rule that a sandbox not persisted
// dies with the handle that created it. A substrate's destructor calls destroy_unless_persisted(): a base
// destructor can no longer reach the substrate's destroy(). The substrates' classes live in their .cc
// files; their create and attach functions set a sandbox up through start_new / attach_to.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "sandbox/sandbox.h"

namespace baleen::sandbox {

class StatefulSandbox : public Sandbox {
 public:
  explicit StatefulSandbox(std::string_view substrate) : substrate_(substrate) {}

  const std::string& id() const override { return id_; }
  std::string_view substrate() const override { return substrate_; }
  bool runs_processes() const override { return true; }
  std::string working_dir() const override { return workspace_ ? kWorkspaceMount : "/"; }
  // Without a copy-on-write workspace there is nothing to list or apply.
  std::vector<WorkspaceChange> workspace_changes() override;
  void apply_workspace() override;

  const std::string& state_dir() const { return state_dir_; }  // absolute
  const Limits& limits() const { return limits_; }
  const std::optional<Workspace>& workspace() const { return workspace_; }

  // A new sandbox: checks that the substrate runs here and the spec names a state root, then takes
  // a fresh id (or `id`, one whose state directory was made ahead) and creates its state directory.
  void start_new(bool (*available)(std::string*), const SandboxSpec& spec, const std::string& id = {});
  // An existing sandbox from its state directory; returns its sandbox.json. An attached handle never
  // destroys the sandbox implicitly.
  nlohmann::json attach_to(const std::string& state_dir);
  // Writes sandbox.json: the shared fields and the substrate's own (`fields`).
  void save_state(const std::string& image, const std::string& image_hash, nlohmann::json fields) const;
  // Marks the sandbox destroyed; false when it already was, so destroy() runs once.
  bool begin_destroy();
  // After a create that failed and undid its own set-up: marks the sandbox destroyed and removes its state
  // directory, leaving nothing for the destructor.
  void abandon() noexcept;

 protected:
  // A copy-on-write workspace's changes, and applying them, for a substrate that has a layer to read.
  virtual std::vector<WorkspaceChange> layer_changes(bool apply);

  // A path of the file API inside the sandbox: a relative one under working_dir().
  std::string in_working_dir(const std::string& path) const {
    return path.starts_with('/') ? path : working_dir() + "/" + path;
  }
  void destroy_unless_persisted() noexcept;
  void check_not_destroyed() const;
  // Removes the state directory: destroy()'s last step.
  void remove_state() const;

  std::string_view substrate_;
  std::string id_;
  std::string state_dir_;
  Limits limits_;
  std::optional<Workspace> workspace_;
  bool persist_ = false;
  bool destroyed_ = true;  // until start_new or attach_to: there is nothing to destroy
};

}  // namespace baleen::sandbox
