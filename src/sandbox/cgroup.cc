#include "sandbox/cgroup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "core/log.h"
#include "core/worker_pool.h"

namespace baleen::sandbox {

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

SandboxCgroup SandboxCgroup::create(const std::string& name, const Limits& limits) {
  SandboxCgroup cgroup = make(name, limits);
  cgroup.limit(limits);
  return cgroup;
}

// Where sandbox cgroups go: "<hierarchy>/<our cgroup>/baleen" for the v2 hierarchy (first, with
// `v2` set, when it delegates memory and pids to us) or for each v1 controller we use.
std::vector<std::pair<std::string, std::string>> SandboxCgroup::bases(bool* v2) {
  std::ifstream self("/proc/self/cgroup");
  std::string membership((std::istreambuf_iterator<char>(self)), std::istreambuf_iterator<char>());
  std::string base2 = std::string(kMount) + own_cgroup(membership, "") + "/baleen";
  *v2 = false;
  if (fs::exists(std::string(kMount) + "/cgroup.controllers") && make_dir(base2)) {
    std::string controllers = read_first_line(base2 + "/cgroup.controllers");
    if (controllers.find("memory") != std::string::npos && controllers.find("pids") != std::string::npos &&
        write_value(base2 + "/cgroup.subtree_control", "+memory +pids +cpu")) {
      *v2 = true;
      return {{"", base2}};
    }
  }
  std::vector<std::pair<std::string, std::string>> v1;
  for (const char* controller : {"memory", "pids", "cpu"}) {
    std::string mount = std::string(kMount) + "/" + controller;
    if (fs::exists(mount + "/cgroup.procs"))
      v1.emplace_back(controller, mount + own_cgroup(membership, controller) + "/baleen");
  }
  return v1;
}

SandboxCgroup SandboxCgroup::make(const std::string& name, const Limits& limits) {
  SandboxCgroup cgroup;
  for (const auto& [controller, base] : bases(&cgroup.v2_)) {
    bool wanted = controller.empty()       ? true
                  : controller == "memory" ? limits.memory_bytes > 0
                  : controller == "pids"   ? limits.pids > 0
                                           : limits.cpus > 0;
    if (!wanted) continue;
    if (!make_dir(base + "/" + name)) {
      log::debug("cgroup {}: cannot create {}/{}", controller.empty() ? "v2" : controller, base, name);
      continue;
    }
    cgroup.dirs_.push_back(base + "/" + name);
  }
  return cgroup;
}

void SandboxCgroup::limit(const Limits& limits) const {
  for (const std::string& dir : dirs_) {
    if (v2_) {
      if (limits.memory_bytes > 0) write_limit(dir, "memory.max", std::to_string(limits.memory_bytes));
      if (limits.memory_bytes > 0) write_value(dir + "/memory.swap.max", "0");
      if (limits.pids > 0) write_limit(dir, "pids.max", std::to_string(limits.pids));
      if (limits.cpus > 0) write_value(dir + "/cpu.max", fmt::format("{} 100000", cfs_quota(limits.cpus)));
    } else if (dir.find("/memory/") != std::string::npos) {
      write_limit(dir, "memory.limit_in_bytes", std::to_string(limits.memory_bytes));
      write_value(dir + "/memory.memsw.limit_in_bytes", std::to_string(limits.memory_bytes));
      write_value(dir + "/memory.swappiness", "0");
    } else if (dir.find("/pids/") != std::string::npos) {
      write_limit(dir, "pids.max", std::to_string(limits.pids));
    } else if (dir.find("/cpu/") != std::string::npos) {
      write_limit(dir, "cpu.cfs_period_us", "100000");
      write_limit(dir, "cpu.cfs_quota_us", std::to_string(cfs_quota(limits.cpus)));
    }
  }
}

void SandboxCgroup::remove_unused() {
  bool v2 = false;
  for (const auto& [controller, base] : bases(&v2)) {
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(base, error)) {
      // A cgroup still holding a process refuses (EBUSY): only abandoned ones go. One made in the
      // last minute may be another creator's, between its mkdir and moving a process in: left alone.
      struct stat st {};
      if (entry.is_directory() && ::stat(entry.path().c_str(), &st) == 0 &&
          ::time(nullptr) - st.st_ctime > 60) {
        ::rmdir(entry.path().c_str());
      }
    }
  }
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

void SandboxCgroup::remove_later() {
  if (dirs_.empty()) return;
  // A v1 memory cgroup's rmdir drains per-CPU state on every CPU and waits for it (2-7 ms on this
  // 2-vCPU VM when the CPUs idle). What is pending at exit, remove_unused finds later.
  static auto* reaper = new WorkerPool(1);  // never destroyed: what is pending at exit is left
  reaper->submit([cgroup = std::move(*this)]() mutable { cgroup.remove(); });
  dirs_.clear();
}

void SandboxCgroup::remove() {
  for (const auto& dir : dirs_) {
    // The kernel removes a cgroup only once its last task has exited, which trails the death of
    // the sandbox's init by an RCU grace period or so: retry soon at first, then back off (~2 s).
    auto pause = std::chrono::microseconds(50);
    for (auto waited = pause * 0; waited < std::chrono::seconds(2);
         waited += pause, pause = std::min(pause * 2, std::chrono::microseconds(5000))) {
      if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) break;
      if (errno != EBUSY) {
        log::warn("cgroup: cannot remove {}: {}", dir, std::strerror(errno));
        break;
      }
      std::this_thread::sleep_for(pause);
    }
  }
  dirs_.clear();
}

}  // namespace baleen::sandbox
