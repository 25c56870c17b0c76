// The state directory of one sandbox, state_root/<id>/, holding sandbox.json (substrate, image,
// limits and substrate fields) so another process (the CLI) can attach to, list or destroy it.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "sandbox/sandbox.h"

namespace baleen::sandbox {

// 12 random hex digits.
std::string new_sandbox_id();
std::string sandbox_state_dir(const std::string& state_root, const std::string& id);

nlohmann::json limits_to_json(const Limits& limits);
Limits limits_from_json(const nlohmann::json& json);
// A user namespace's mapping, null for none (as a state written before user namespaces reads).
nlohmann::json ids_to_json(const std::optional<IdMapping>& ids);
std::optional<IdMapping> ids_from_json(const nlohmann::json& json);

// A workspace, null for none.
nlohmann::json workspace_to_json(const std::optional<Workspace>& workspace);
std::optional<Workspace> workspace_from_json(const nlohmann::json& json);

// Writes state_dir/sandbox.json atomically (temp file + rename).
void save_sandbox_state(const std::string& state_dir, const nlohmann::json& state);
nlohmann::json load_sandbox_state(const std::string& state_dir);

}  // namespace baleen::sandbox
