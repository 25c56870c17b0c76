#include "sandbox/sandbox_state.h"

#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace baleen::sandbox {

std::string new_sandbox_id() {
  // getrandom, not std::random_device: that probes the CPU (cpuid, a trap in a VM) on every construction.
  uint64_t bits = 0;
  check(::getrandom(&bits, sizeof(bits), 0) == static_cast<ssize_t>(sizeof(bits)), "getrandom: {}",
        std::strerror(errno));
  return fmt::format("{:012x}", bits & 0xffffffffffffULL);
}

std::string sandbox_state_dir(const std::string& state_root, const std::string& id) {
  check(!id.empty() && id.find('/') == std::string::npos && id != "." && id != "..",
        "sandbox id '{}' is not a plain name", id);
  return state_root + "/" + id;
}

nlohmann::json limits_to_json(const Limits& limits) {
  return {{"memory_bytes", limits.memory_bytes},
          {"pids", limits.pids},
          {"cpus", limits.cpus},
          {"disk_bytes", limits.disk_bytes},
          {"wall_timeout_ms", limits.wall_timeout.count()},
          {"network", limits.network},
          {"output_bytes", limits.output_bytes}};
}

Limits limits_from_json(const nlohmann::json& json) {
  Limits limits;
  limits.memory_bytes = json.at("memory_bytes").get<int64_t>();
  limits.pids = json.at("pids").get<int64_t>();
  limits.cpus = json.at("cpus").get<double>();
  limits.disk_bytes = json.at("disk_bytes").get<int64_t>();
  limits.wall_timeout = std::chrono::milliseconds(json.at("wall_timeout_ms").get<int64_t>());
  limits.network = json.at("network").get<bool>();
  limits.output_bytes = json.at("output_bytes").get<int64_t>();
  return limits;
}

nlohmann::json ids_to_json(const std::optional<IdMapping>& ids) {
  if (!ids) return nullptr;
  return {{"first", ids->first}, {"count", ids->count}};
}

std::optional<IdMapping> ids_from_json(const nlohmann::json& json) {
  if (json.is_null()) return std::nullopt;
  return IdMapping{json.at("first").get<uint32_t>(), json.at("count").get<uint32_t>()};
}

nlohmann::json workspace_to_json(const std::optional<Workspace>& workspace) {
  if (!workspace) return nullptr;
  return {{"dir", workspace->dir}, {"read_write", workspace->mode == WorkspaceMode::kReadWrite}};
}

std::optional<Workspace> workspace_from_json(const nlohmann::json& json) {
  if (json.is_null()) return std::nullopt;
  return Workspace{json.at("dir").get<std::string>(), json.at("read_write").get<bool>()
                                                          ? WorkspaceMode::kReadWrite
                                                          : WorkspaceMode::kCopyOnWrite};
}

void save_sandbox_state(const std::string& state_dir, const nlohmann::json& state) {
  std::string path = state_dir + "/sandbox.json";
  std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << state.dump(2) << "\n";
    check(out.good(), "cannot write sandbox state '{}'", temp);
  }
  std::error_code error;
  std::filesystem::rename(temp, path, error);
  check(!error, "cannot rename '{}' to '{}': {}", temp, path, error.message());
}

nlohmann::json load_sandbox_state(const std::string& state_dir) {
  std::string path = state_dir + "/sandbox.json";
  std::ifstream in(path);
  check(in.good(), "no sandbox at '{}' (missing sandbox.json)", state_dir);
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    fail("sandbox state '{}' is not valid JSON: {}", path, e.what());
  }
}

}  // namespace baleen::sandbox
