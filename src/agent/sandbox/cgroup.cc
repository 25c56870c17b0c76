#include "agent/sandbox/cgroup.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "core/log.h"

namespace baleen::agent {

namespace {

namespace fs = std::filesystem;

constexpr const char* kMount = "/sys/fs/cgroup";

bool write_value(const std::string& file, const std::string& value) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::write(fd, value.data(), value.size()) == static_cast<ssize_t>(value.size());
  ::close(fd);
  return ok;
}

void write_limit(const std::string& dir, const char* file, const std::string& value) {
  std::string path = dir + "/" + file;
  check(write_value(path, value), "cgroup: cannot write '{}' to {}: {}", value, path, std::strerror(errno));
}

// The calling process's cgroup path in the hierarchy whose controller list contains `controller`
// ("" names the v2 unified hierarchy); `membership` is /proc/self/cgroup, read once per create.
std::string own_cgroup(const std::string& membership, const std::string& controller) {
  std::istringstream in(membership);
  std::string line;
  while (std::getline(in, line)) {
    size_t first = line.find(':');
    size_t second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    std::string list = line.substr(first + 1, second - first - 1);
    std::string path = line.substr(second + 1);
    if (controller.empty() ? list.empty()
                           : ("," + list + ",").find("," + controller + ",") != std::string::npos) {
      return path == "/" ? "" : path;
    }
  }
  return "";
}

bool make_dir(const std::string& dir) {
  std::error_code error;
  fs::create_directories(dir, error);
  return !error && fs::is_directory(dir);
}

std::string read_first_line(const std::string& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  return line;
}

int64_t cfs_quota(double cpus) {
  return static_cast<int64_t>(std::llround(cpus * 100000.0));
}

}  // namespace

SandboxCgroup SandboxCgroup::from_dirs(std::vector<std::string> dirs, bool v2) {
  SandboxCgroup cgroup;
  cgroup.dirs_ = std::move(dirs);
  cgroup.v2_ = v2;
  return cgroup;
}

SandboxCgroup SandboxCgroup::create(const std::string& id, const Limits& limits) {
  SandboxCgroup cgroup;
  std::ifstream self("/proc/self/cgroup");
  std::string membership((std::istreambuf_iterator<char>(self)), std::istreambuf_iterator<char>());
  // v2: a unified mount at /sys/fs/cgroup whose base lists the controllers we need.
  std::string base2 = std::string(kMount) + own_cgroup(membership, "") + "/baleen";
  if (fs::exists(std::string(kMount) + "/cgroup.controllers") && make_dir(base2)) {
    std::string controllers = read_first_line(base2 + "/cgroup.controllers");
    if (controllers.find("memory") != std::string::npos && controllers.find("pids") != std::string::npos &&
        write_value(base2 + "/cgroup.subtree_control", "+memory +pids +cpu") && make_dir(base2 + "/" + id)) {
      std::string dir = base2 + "/" + id;
      cgroup.v2_ = true;
      cgroup.dirs_.push_back(dir);
      if (limits.memory_bytes > 0) write_limit(dir, "memory.max", std::to_string(limits.memory_bytes));
      if (limits.memory_bytes > 0) write_value(dir + "/memory.swap.max", "0");
      if (limits.pids > 0) write_limit(dir, "pids.max", std::to_string(limits.pids));
      if (limits.cpus > 0) write_value(dir + "/cpu.max", fmt::format("{} 100000", cfs_quota(limits.cpus)));
      return cgroup;
    }
  }
  // v1: one hierarchy per controller.
  for (const char* controller : {"memory", "pids", "cpu"}) {
    std::string_view name = controller;
    bool wanted = name == "memory" ? limits.memory_bytes > 0
                  : name == "pids" ? limits.pids > 0
                                   : limits.cpus > 0;
    std::string mount = std::string(kMount) + "/" + controller;
    if (!wanted || !fs::exists(mount + "/cgroup.procs")) continue;
    std::string dir = mount + own_cgroup(membership, controller) + "/baleen/" + id;
    if (!make_dir(dir)) {
      log::debug("cgroup v1 {}: cannot create {}", controller, dir);
      continue;
    }
    cgroup.dirs_.push_back(dir);
    if (std::string_view(controller) == "memory" && limits.memory_bytes > 0) {
      write_limit(dir, "memory.limit_in_bytes", std::to_string(limits.memory_bytes));
      write_value(dir + "/memory.memsw.limit_in_bytes", std::to_string(limits.memory_bytes));
      write_value(dir + "/memory.swappiness", "0");
    } else if (std::string_view(controller) == "pids" && limits.pids > 0) {
      write_limit(dir, "pids.max", std::to_string(limits.pids));
    } else if (std::string_view(controller) == "cpu" && limits.cpus > 0) {
      write_limit(dir, "cpu.cfs_period_us", "100000");
      write_limit(dir, "cpu.cfs_quota_us", std::to_string(cfs_quota(limits.cpus)));
    }
  }
  return cgroup;
}

bool SandboxCgroup::limits_memory() const {
  for (const auto& dir : dirs_) {
    if (v2_ || dir.find("/memory/") != std::string::npos) return true;
  }
  return false;
}

bool SandboxCgroup::limits_pids() const {
  for (const auto& dir : dirs_) {
    if (v2_ || dir.find("/pids/") != std::string::npos) return true;
  }
  return false;
}

void SandboxCgroup::add(pid_t pid) const {
  for (const auto& dir : dirs_) write_limit(dir, "cgroup.procs", std::to_string(pid));
}

int64_t SandboxCgroup::peak_memory_bytes() const {
  for (const auto& dir : dirs_) {
    std::string file = v2_ ? dir + "/memory.peak" : dir + "/memory.max_usage_in_bytes";
    if (!v2_ && dir.find("/memory/") == std::string::npos) continue;
    std::string value = read_first_line(file);
    if (!value.empty()) return std::stoll(value);
  }
  return 0;
}

void SandboxCgroup::remove() {
  for (const auto& dir : dirs_) {
    // The kernel removes a cgroup only once its last task has exited, which trails the death of
    // the sandbox's init by a little.
    for (int attempt = 0; attempt < 400; ++attempt) {
      if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) break;
      if (errno != EBUSY) {
        log::warn("cgroup: cannot remove {}: {}", dir, std::strerror(errno));
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  dirs_.clear();
}

}  // namespace baleen::agent
