#include "sandbox/stateful_sandbox.h"

#include <filesystem>

#include "core/error.h"
#include "core/log.h"
#include "sandbox/sandbox_state.h"

namespace baleen::sandbox {

namespace fs = std::filesystem;

void StatefulSandbox::start_new(bool (*available)(std::string*), const SandboxSpec& spec,
                                const std::string& id) {
  const std::string_view substrate = substrate_;
  std::string reason;
  check(available(&reason), "{} substrate unavailable: {}", substrate, reason);
  check(!spec.state_root.empty(), "{} substrate: the spec names no state_root", substrate);
  if (spec.workspace) {
    check(fs::is_directory(spec.workspace->dir), "{} substrate: the workspace '{}' is not a directory",
          substrate, spec.workspace->dir);
    workspace_ =
        Workspace{fs::absolute(spec.workspace->dir).lexically_normal().string(), spec.workspace->mode};
  }
  id_ = id.empty() ? new_sandbox_id() : id;
  state_dir_ = fs::absolute(sandbox_state_dir(spec.state_root, id_)).string();
  limits_ = spec.limits;
  persist_ = spec.persist;
  fs::create_directories(state_dir_);
  destroyed_ = false;
}

nlohmann::json StatefulSandbox::attach_to(const std::string& state_dir) {
  nlohmann::json state = load_sandbox_state(state_dir);
  id_ = state.at("id");
  state_dir_ = fs::absolute(state_dir).string();
  limits_ = limits_from_json(state.at("limits"));
  workspace_ = workspace_from_json(state.value("workspace", nlohmann::json()));
  persist_ = true;
  destroyed_ = false;
  return state;
}

void StatefulSandbox::save_state(const std::string& image, const std::string& image_hash,
                                 nlohmann::json fields) const {
  fields.update({{"id", id_},
                 {"substrate", substrate_},
                 {"image", image},
                 {"image_hash", image_hash},
                 {"limits", limits_to_json(limits_)},
                 {"workspace", workspace_to_json(workspace_)},
                 {"persist", persist_}});
  save_sandbox_state(state_dir_, fields);
}

std::vector<WorkspaceChange> StatefulSandbox::workspace_changes() {
  check_not_destroyed();
  if (!workspace_ || workspace_->mode == WorkspaceMode::kReadWrite) return {};
  return layer_changes(false);
}

void StatefulSandbox::apply_workspace() {
  check_not_destroyed();
  if (workspace_ && workspace_->mode == WorkspaceMode::kCopyOnWrite) layer_changes(true);
}

std::vector<WorkspaceChange> StatefulSandbox::layer_changes(bool) {
  fail(
      "{} substrate: it keeps no layer over the workspace to list or apply changes from (use the process or "
      "container substrate)",
      substrate_);
}

void StatefulSandbox::destroy_unless_persisted() noexcept {
  if (destroyed_ || persist_) return;
  try {
    destroy();
  } catch (const Error& e) {
    log::warn("sandbox {}: {}", id_, e.what());
  }
}

void StatefulSandbox::check_not_destroyed() const {
  check(!destroyed_, "sandbox {} was destroyed", id_);
}

bool StatefulSandbox::begin_destroy() {
  if (destroyed_) return false;
  destroyed_ = true;
  return true;
}

void StatefulSandbox::abandon() noexcept {
  destroyed_ = true;
  std::error_code ignored;
  fs::remove_all(state_dir_, ignored);
}

void StatefulSandbox::remove_state() const {
  std::error_code error;
  fs::remove_all(state_dir_, error);
  check(!error, "sandbox {}: cannot remove its state '{}': {}", id_, state_dir_, error.message());
}

}  // namespace baleen::sandbox
