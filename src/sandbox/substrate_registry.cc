// The substrate table behind create_sandbox / attach_sandbox / list_sandboxes (sandbox.h).
#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "sandbox/container_sandbox.h"
#include "sandbox/function_sandbox.h"
#include "sandbox/microvm_sandbox.h"
#include "sandbox/process_sandbox.h"
#include "sandbox/sandbox.h"
#include "sandbox/sandbox_state.h"

namespace baleen::sandbox {

const std::vector<Substrate>& substrates() {
  static const std::vector<Substrate> table = {function_substrate(), process_substrate(),
                                               container_substrate(), microvm_substrate()};
  return table;
}

const Substrate& find_substrate(std::string_view name) {
  for (const Substrate& substrate : substrates()) {
    if (substrate.name == name) return substrate;
  }
  fail("unknown sandbox substrate '{}' (expected function, process, container or microvm)", name);
}

std::unique_ptr<Sandbox> create_sandbox(std::string_view substrate, const SandboxSpec& spec) {
  return find_substrate(substrate).create(spec);
}

std::unique_ptr<Sandbox> attach_sandbox(const std::string& state_root, const std::string& id) {
  std::string state_dir = sandbox_state_dir(state_root, id);
  return find_substrate(load_sandbox_state(state_dir).value("substrate", "")).attach(state_dir);
}

std::vector<SandboxInfo> list_sandboxes(const std::string& state_root) {
  std::vector<SandboxInfo> infos;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(state_root, error)) {
    if (!std::filesystem::exists(entry.path() / "sandbox.json")) continue;
    nlohmann::json state = load_sandbox_state(entry.path().string());
    SandboxInfo info{state.value("id", ""), state.value("substrate", ""), state.value("image", ""), false};
    info.alive = find_substrate(info.substrate).alive(entry.path().string());
    infos.push_back(std::move(info));
  }
  std::sort(infos.begin(), infos.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return infos;
}

}  // namespace baleen::sandbox
