// Start latency and density of the `process` and `container` substrates (docs/BENCHMARKS.md "Sandbox").
//   ProcessCreateExecDestroy, ContainerCreateExecDestroy: create + exec(`true`) + destroy, with median
//   and p99 as counters.
//   NamespaceCloneFloor: the floor under it: a bare clone with the same namespaces, exit, wait.
//   ExecTrueFloor: the command's own share: posix_spawn of the image's (static busybox) `true`, wait.
// scripts/sandbox_bench.sh runs the latency rows several times and prints the ratios to the floor.
//   LiveIdleSandboxes/N: N sandboxes alive at once; memory per sandbox from MemAvailable (kernel
//   objects included), the sandboxes' memory cgroups (user + kernel pages charged to them) and the
//   init processes' PSS; descriptors per sandbox (init's, and the creator's growth).
// Needs root; prints why and exits 0 otherwise. The image comes from scripts/build_image.sh.
#include <benchmark/benchmark.h>
#include <sched.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "sandbox/container_sandbox.h"
#include "sandbox/image.h"
#include "sandbox/process_sandbox.h"
#include "sandbox/sandbox.h"

namespace {

using baleen::sandbox::ExecRequest;
using baleen::sandbox::SandboxSpec;

std::string build_image() {
  std::string cache = (std::filesystem::temp_directory_path() / "baleen-test-images").string();
  std::string command = std::string(BALEEN_SOURCE_DIR) + "/scripts/build_image.sh " + cache;
  FILE* pipe = ::popen(command.c_str(), "r");
  char line[4096] = {};
  std::string out = std::fgets(line, sizeof(line), pipe) ? line : "";
  ::pclose(pipe);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

SandboxSpec bench_spec(const std::string& state_root) {
  static const std::string image = build_image();
  SandboxSpec spec;
  spec.image = image;
  spec.state_root = state_root;
  spec.limits.memory_bytes = int64_t{64} << 20;
  spec.limits.pids = 32;
  spec.limits.disk_bytes = int64_t{8} << 20;
  return spec;
}

// Sandbox state is runtime state: on a tmpfs (/dev/shm here, /run/baleen in production) it costs no
// filesystem journal work; BALEEN_BENCH_STATE overrides.
std::string state_root() {
  const char* base = std::getenv("BALEEN_BENCH_STATE");
  std::string dir = base != nullptr ? base : std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
  std::string pattern = dir + "/baleen-bench-XXXXXX";
  return ::mkdtemp(pattern.data());
}

int64_t meminfo_kb(const std::string& key) {
  std::ifstream in("/proc/meminfo");
  std::string name;
  int64_t value = 0;
  std::string unit;
  while (in >> name >> value >> unit) {
    if (name == key + ":") return value;
  }
  return 0;
}

int64_t pss_kb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps_rollup");
  std::string name;
  while (in >> name) {
    if (name == "Pss:") {
      int64_t value = 0;
      in >> value;
      return value;
    }
  }
  return 0;
}

// Descriptors open in process `pid` (-1: this process).
int64_t open_fds(pid_t pid) {
  std::string dir = pid < 0 ? "/proc/self/fd" : "/proc/" + std::to_string(pid) + "/fd";
  std::error_code error;
  int64_t count = 0;
  for (auto it = std::filesystem::directory_iterator(dir, error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    ++count;
  }
  return count;
}

int64_t first_number(const std::string& file) {
  std::ifstream in(file);
  int64_t value = 0;
  in >> value;
  return value;
}

void report_latency(benchmark::State& state, std::vector<double> samples_ms) {
  std::sort(samples_ms.begin(), samples_ms.end());
  state.counters["median_ms"] = samples_ms[samples_ms.size() / 2];
  state.counters["p99_ms"] = samples_ms[std::min(samples_ms.size() - 1, samples_ms.size() * 99 / 100)];
}

// An untimed idle pause of `ms` between cycles (none for 0).
void pause_between_cycles(benchmark::State& state, int64_t ms) {
  if (ms <= 0) return;
  state.PauseTiming();
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  state.ResumeTiming();
}

bool process_substrate_available(benchmark::State& state) {
  std::string reason;
  if (baleen::sandbox::find_substrate("process").available(&reason)) return true;
  state.SkipWithError(reason.c_str());
  return false;
}

// CPU time of this process and its reaped children (each sandbox's init, which reaped its commands).
double cpu_ms() {
  rusage self{}, children{};
  ::getrusage(RUSAGE_SELF, &self);
  ::getrusage(RUSAGE_CHILDREN, &children);
  auto ms = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_usec) * 1e-3;
  };
  return ms(self.ru_utime) + ms(self.ru_stime) + ms(children.ru_utime) + ms(children.ru_stime);
}

// state.range(0) == 0 runs without a CPU cgroup, which lets the benchmark run under SCHED_FIFO
// (`chrt -f 10`) to measure latency without the host's other load: v1 CPU cgroups refuse RT tasks.
// state.range(1) == 0 (process) runs without the user namespace. state.range(2) is an untimed pause
// between cycles in ms: 0 is back to back (the init pool refills on the CPUs the cycle needs), 20
// gives it the idle time a caller that does anything between sandboxes leaves.
void create_exec_destroy(benchmark::State& state, const char* substrate) {
  std::string root = state_root();
  SandboxSpec spec = bench_spec(root);
  if (state.range(0) == 0) spec.limits.cpus = 0;
  if (state.range(1) == 0) spec.user_namespace = std::nullopt;
  ExecRequest request;
  request.argv = {"true"};
  std::vector<double> samples, creates, execs, destroys, cmd_walls;
  auto ms_since = [](std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  };
  double cpu_start = cpu_ms();
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    auto sandbox = baleen::sandbox::create_sandbox(substrate, spec);
    creates.push_back(ms_since(start));
    auto exec_start = std::chrono::steady_clock::now();
    auto result = sandbox->exec(request);
    execs.push_back(ms_since(exec_start));
    sandbox->destroy();
    samples.push_back(ms_since(start));
    destroys.push_back(samples.back() - creates.back() - execs.back());
    cmd_walls.push_back(result.wall_seconds * 1e3);
    if (result.exit_code != 0) state.SkipWithError("`true` failed in the sandbox");
    pause_between_cycles(state, state.range(2));
  }
  state.counters["cpu_ms_per_cycle"] = (cpu_ms() - cpu_start) / static_cast<double>(samples.size());
  // The phases' own medians (they need not add up to the cycle's); cmd_ms is the command's own wall
  // time as init measured it (spawn to reaped), the rest of exec_ms the round trip around it.
  for (auto [name, phase] : {std::pair{"create_ms", &creates}, {"exec_ms", &execs}, {"destroy_ms", &destroys},
                             {"cmd_ms", &cmd_walls}}) {
    std::sort(phase->begin(), phase->end());
    state.counters[name] = (*phase)[phase->size() / 2];
  }
  report_latency(state, std::move(samples));
  std::error_code ignored;  // the reaper may be removing a destroyed sandbox's directory meanwhile
  std::filesystem::remove_all(root, ignored);
}
void ProcessCreateExecDestroy(benchmark::State& state) {
  if (process_substrate_available(state)) create_exec_destroy(state, "process");
}
BENCHMARK(ProcessCreateExecDestroy)
    ->ArgNames({"cpu_cgroup", "userns", "pause_ms"})
    ->Args({1, 1, 0})
    ->Args({0, 1, 0})
    ->Args({0, 0, 0})
    ->Args({0, 1, 20})
    ->Iterations(300)
    ->Unit(benchmark::kMillisecond);

// The floor: what the kernel charges for the namespaces alone. Same flags as the substrate's init
// (state.range(0) == 0 leaves out the network namespace); the child exits at once. state.range(1) is
// the same untimed pause between cycles as the sandbox cycle's, so a paced cycle has a paced floor
// (after an idle pause the CPUs wake and the caches refill for both).
void NamespaceCloneFloor(benchmark::State& state) {
  if (!process_substrate_available(state)) return;
  unsigned long flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | SIGCHLD;
  if (state.range(0) != 0) flags |= CLONE_NEWNET;
  std::vector<double> samples;
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    long pid = ::syscall(SYS_clone, flags, 0, 0, 0, 0);
    if (pid == 0) ::_exit(0);
    if (pid < 0) {
      state.SkipWithError("clone with namespaces failed");
      return;
    }
    ::waitpid(static_cast<pid_t>(pid), nullptr, 0);
    samples.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    pause_between_cycles(state, state.range(1));
  }
  report_latency(state, std::move(samples));
}
BENCHMARK(NamespaceCloneFloor)
    ->ArgNames({"netns", "pause_ms"})
    ->Args({1, 0})
    ->Args({0, 0})
    ->Args({1, 20})
    ->Iterations(300)
    ->Unit(benchmark::kMillisecond);

// What running the command costs outside any sandbox: spawn (vfork-style) the image's `true`, wait.
void ExecTrueFloor(benchmark::State& state) {
  if (!process_substrate_available(state)) return;
  std::string busybox = baleen::sandbox::Image::open(bench_spec("").image).layers.at(0) + "/bin/busybox";
  char* argv[] = {const_cast<char*>("true"), nullptr};
  char* envp[] = {nullptr};
  std::vector<double> samples;
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    pid_t pid = -1;
    if (::posix_spawn(&pid, busybox.c_str(), nullptr, nullptr, argv, envp) != 0) {
      state.SkipWithError(("cannot spawn " + busybox).c_str());
      return;
    }
    ::waitpid(pid, nullptr, 0);
    samples.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  report_latency(state, std::move(samples));
}
BENCHMARK(ExecTrueFloor)->Iterations(300)->Unit(benchmark::kMillisecond);

// Memory the sandbox's memory cgroup has charged (user pages, tmpfs, kernel objects), in KiB.
int64_t cgroup_memory_kb(const nlohmann::json& state, const char* v1_file) {
  for (const auto& entry : state.at("cgroups")) {
    const std::string dir = entry.get<std::string>();
    if (state.at("cgroup_v2").get<bool>()) return first_number(dir + "/memory.current") / 1024;
    if (dir.find("/memory/") != std::string::npos) return first_number(dir + "/" + v1_file) / 1024;
  }
  return 0;
}

void ContainerCreateExecDestroy(benchmark::State& state) {
  std::string reason;
  if (!baleen::sandbox::find_substrate("container").available(&reason)) return state.SkipWithError(reason.c_str());
  create_exec_destroy(state, "container");
}
BENCHMARK(ContainerCreateExecDestroy)
    ->ArgNames({"cpu_cgroup", "userns", "pause_ms"})
    ->Args({1, 0, 0})
    ->Args({0, 0, 0})
    ->Iterations(100)
    ->Unit(benchmark::kMillisecond);

void LiveIdleSandboxes(benchmark::State& state) {
  if (!process_substrate_available(state)) return;
  std::string root = state_root();
  SandboxSpec spec = bench_spec(root);
  auto count = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    int64_t available_before = meminfo_kb("MemAvailable");
    int64_t creator_fds_before = open_fds(-1);
    std::vector<std::unique_ptr<baleen::sandbox::Sandbox>> live;
    auto start = std::chrono::steady_clock::now();
    try {
      for (size_t i = 0; i < count; ++i) live.push_back(baleen::sandbox::create_sandbox("process", spec));
    } catch (const baleen::Error& e) {
      std::fprintf(stderr, "sandbox %zu of %zu failed: %s\n", live.size() + 1, count, e.what());
      state.SkipWithError("a sandbox could not be created");
    }
    double create_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ExecRequest request;
    request.argv = {"true"};
    int failures = 0;
    for (auto& sandbox : live) failures += sandbox->exec(request).exit_code != 0;
    int64_t available_after = meminfo_kb("MemAvailable");
    int64_t pss = 0, charged = 0, kernel = 0, init_fds = 0;
    for (const auto& info : baleen::sandbox::list_sandboxes(root)) {
      std::ifstream in(root + "/" + info.id + "/sandbox.json");
      nlohmann::json saved = nlohmann::json::parse(in);
      pid_t init = saved.at("init_pid").get<pid_t>();
      pss += pss_kb(init);
      init_fds += open_fds(init);
      charged += cgroup_memory_kb(saved, "memory.usage_in_bytes");
      kernel += cgroup_memory_kb(saved, "memory.kmem.usage_in_bytes");
    }
    auto per = [&](int64_t total) { return static_cast<double>(total) / static_cast<double>(live.size()); };
    state.counters["live"] = static_cast<double>(live.size());
    state.counters["exec_failures"] = failures;
    state.counters["create_ms_each"] = create_s * 1e3 / static_cast<double>(live.size());
    state.counters["kib_per_sandbox_meminfo"] = per(available_before - available_after);
    state.counters["kib_per_sandbox_cgroup"] = per(charged);
    state.counters["kib_per_sandbox_cgroup_kmem"] = per(kernel);
    state.counters["kib_per_sandbox_init_pss"] = per(pss);
    state.counters["fds_per_init"] = per(init_fds);
    state.counters["creator_fds_per_sandbox"] = per(open_fds(-1) - creator_fds_before);
    for (auto& sandbox : live) sandbox->destroy();
  }
  std::error_code ignored;
  std::filesystem::remove_all(root, ignored);
}
BENCHMARK(LiveIdleSandboxes)->Arg(1000)->Arg(10000)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
