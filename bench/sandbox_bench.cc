// Start latency and density of the `process` and `container` substrates (docs/BENCHMARKS.md "Sandbox").
//   ProcessCreateExecDestroy, ContainerCreateExecDestroy: create + exec(`true`) + destroy, with median
//   and p99 as counters.
//   LiveIdleSandboxes/N: N sandboxes alive at once; memory per sandbox from MemAvailable (kernel
//   objects included) and from the init processes' PSS.
// Needs root; prints why and exits 0 otherwise. The image comes from scripts/build_image.sh.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "agent/sandbox/container_sandbox.h"
#include "agent/sandbox/process_sandbox.h"
#include "agent/sandbox/sandbox.h"

namespace {

using baleen::agent::ExecRequest;
using baleen::agent::SandboxSpec;

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

bool process_substrate_available(benchmark::State& state) {
  std::string reason;
  if (baleen::agent::ProcessSandbox::available(&reason)) return true;
  state.SkipWithError(reason.c_str());
  return false;
}

// CPU time of this process and its reaped children (each sandbox's init, which reaped its commands).
double cpu_ms() {
  rusage self{}, children{};
  ::getrusage(RUSAGE_SELF, &self);
  ::getrusage(RUSAGE_CHILDREN, &children);
  auto ms = [](const timeval& t) { return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_usec) * 1e-3; };
  return ms(self.ru_utime) + ms(self.ru_stime) + ms(children.ru_utime) + ms(children.ru_stime);
}

// state.range(0) == 0 runs without a CPU cgroup, which lets the benchmark run under SCHED_FIFO
// (`chrt -f 10`) to measure latency without the host's other load: v1 CPU cgroups refuse RT tasks.
void create_exec_destroy(benchmark::State& state, const char* substrate) {
  std::string root = state_root();
  SandboxSpec spec = bench_spec(root);
  if (state.range(0) == 0) spec.limits.cpus = 0;
  ExecRequest request;
  request.argv = {"true"};
  std::vector<double> samples;
  double cpu_start = cpu_ms();
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    auto sandbox = baleen::agent::create_sandbox(substrate, spec);
    auto result = sandbox->exec(request);
    sandbox->destroy();
    samples.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    if (result.exit_code != 0) state.SkipWithError("`true` failed in the sandbox");
  }
  state.counters["cpu_ms_per_cycle"] = (cpu_ms() - cpu_start) / static_cast<double>(samples.size());
  std::sort(samples.begin(), samples.end());
  state.counters["median_ms"] = samples[samples.size() / 2];
  state.counters["p99_ms"] = samples[std::min(samples.size() - 1, samples.size() * 99 / 100)];
  std::filesystem::remove_all(root);
}
void ProcessCreateExecDestroy(benchmark::State& state) {
  if (process_substrate_available(state)) create_exec_destroy(state, "process");
}
BENCHMARK(ProcessCreateExecDestroy)->ArgName("cpu_cgroup")->Arg(1)->Arg(0)->Iterations(300)->Unit(benchmark::kMillisecond);

void ContainerCreateExecDestroy(benchmark::State& state) {
  std::string reason;
  if (!baleen::agent::ContainerSandbox::available(&reason)) return state.SkipWithError(reason.c_str());
  create_exec_destroy(state, "container");
}
BENCHMARK(ContainerCreateExecDestroy)->ArgName("cpu_cgroup")->Arg(1)->Iterations(100)->Unit(benchmark::kMillisecond);

void LiveIdleSandboxes(benchmark::State& state) {
  if (!process_substrate_available(state)) return;
  std::string root = state_root();
  SandboxSpec spec = bench_spec(root);
  auto count = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    int64_t available_before = meminfo_kb("MemAvailable");
    std::vector<std::unique_ptr<baleen::agent::Sandbox>> live;
    for (size_t i = 0; i < count; ++i) live.push_back(baleen::agent::create_sandbox("process", spec));
    ExecRequest request;
    request.argv = {"true"};
    int failures = 0;
    for (auto& sandbox : live) failures += sandbox->exec(request).exit_code != 0;
    int64_t available_after = meminfo_kb("MemAvailable");
    int64_t pss = 0;
    for (const auto& info : baleen::agent::list_sandboxes(root)) {
      std::ifstream in(root + "/" + info.id + "/sandbox.json");
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      size_t at = text.find("\"init_pid\": ");
      if (at != std::string::npos) pss += pss_kb(static_cast<pid_t>(std::stol(text.substr(at + 12))));
    }
    state.counters["live"] = static_cast<double>(live.size());
    state.counters["exec_failures"] = failures;
    state.counters["kib_per_sandbox_meminfo"] =
        static_cast<double>(available_before - available_after) / static_cast<double>(count);
    state.counters["kib_per_sandbox_init_pss"] = static_cast<double>(pss) / static_cast<double>(count);
    for (auto& sandbox : live) sandbox->destroy();
  }
  std::filesystem::remove_all(root);
}
BENCHMARK(LiveIdleSandboxes)->Arg(1000)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
