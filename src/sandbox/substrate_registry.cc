// The substrate registry behind create_sandbox / attach_sandbox / list_sandboxes (sandbox.h).
#include <filesystem>

#include "core/error.h"
#include "sandbox/container_sandbox.h"
#include "sandbox/function_sandbox.h"
#include "sandbox/microvm_sandbox.h"
#include "sandbox/process_sandbox.h"
#include "sandbox/sandbox.h"
#include "sandbox/sandbox_state.h"

namespace baleen::sandbox {

std::vector<std::string> substrate_names() {
  return {"function", "process", "container", "microvm"};
}

std::unique_ptr<Sandbox> create_sandbox(std::string_view substrate, const SandboxSpec& spec) {
  if (substrate == "function") return FunctionSandbox::create(spec);
  if (substrate == "process") return ProcessSandbox::create(spec);
  if (substrate == "container") return ContainerSandbox::create(spec);
  if (substrate == "microvm") return MicrovmSandbox::create(spec);
  fail("unknown sandbox substrate '{}' (expected function, process, container or microvm)", substrate);
}

std::unique_ptr<Sandbox> attach_sandbox(const std::string& state_root, const std::string& id) {
  std::string state_dir = sandbox_state_dir(state_root, id);
  nlohmann::json state = load_sandbox_state(state_dir);
  std::string substrate = state.value("substrate", "");
  if (substrate == "function") return FunctionSandbox::attach(state_dir);
  if (substrate == "process") return ProcessSandbox::attach(state_dir);
  if (substrate == "container") return ContainerSandbox::attach(state_dir);
  if (substrate == "microvm") return MicrovmSandbox::attach(state_dir);
  fail("sandbox '{}' has unknown substrate '{}' in {}/sandbox.json", id, substrate, state_dir);
}

std::vector<SandboxInfo> list_sandboxes(const std::string& state_root) {
  std::vector<SandboxInfo> infos;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(state_root, error)) {
    if (!std::filesystem::exists(entry.path() / "sandbox.json")) continue;
    nlohmann::json state = load_sandbox_state(entry.path().string());
    SandboxInfo info{state.value("id", ""), state.value("substrate", ""), state.value("image", ""), true};
    if (info.substrate == "process") info.alive = ProcessSandbox::alive(entry.path().string());
    if (info.substrate == "container") info.alive = ContainerSandbox::alive(entry.path().string());
    if (info.substrate == "microvm") info.alive = MicrovmSandbox::alive(entry.path().string());
    infos.push_back(std::move(info));
  }
  std::sort(infos.begin(), infos.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return infos;
}

}  // namespace baleen::sandbox
