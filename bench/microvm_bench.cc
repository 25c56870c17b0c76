// Boot time and exec latency of the `microvm` substrate (docs/BENCHMARKS.md "Sandbox: microvm").
//   MicrovmBoot: create (QEMU start → guest agent answers) + destroy, a few iterations.
//   MicrovmExec: exec(`true`) round trip in one booted VM.
// Needs qemu-system-x86_64 and the kernel artifact (scripts/build_microvm.sh); exits 0 without.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "sandbox/microvm_sandbox.h"
#include "sandbox/sandbox.h"

namespace {

using baleen::sandbox::SandboxSpec;

std::string build_artifacts() {
  std::string command = std::string(BALEEN_SOURCE_DIR) + "/scripts/build_microvm.sh " + GUEST_AGENT;
  FILE* pipe = ::popen(command.c_str(), "r");
  char line[4096] = {};
  std::string out;
  while (std::fgets(line, sizeof(line), pipe) != nullptr) out = line;
  ::pclose(pipe);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

SandboxSpec bench_spec() {
  static const std::string image = build_artifacts();
  SandboxSpec spec;
  spec.image = image;
  spec.state_root = "/dev/shm/baleen-microvm-bench";
  spec.limits.memory_bytes = int64_t{256} << 20;
  return spec;
}

void MicrovmBoot(benchmark::State& state) {
  for (auto _ : state) {
    auto sandbox = baleen::sandbox::create_sandbox("microvm", bench_spec());
    state.PauseTiming();
    sandbox->destroy();
    state.ResumeTiming();
  }
}
BENCHMARK(MicrovmBoot)->Iterations(3)->Unit(benchmark::kSecond)->UseRealTime();

void MicrovmExec(benchmark::State& state) {
  auto sandbox = baleen::sandbox::create_sandbox("microvm", bench_spec());
  baleen::sandbox::ExecRequest request;
  request.argv = {"true"};
  for (auto _ : state) benchmark::DoNotOptimize(sandbox->exec(request));
  sandbox->destroy();
}
BENCHMARK(MicrovmExec)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(5.0);

}  // namespace

int main(int argc, char** argv) {
  std::string reason;
  if (!baleen::sandbox::find_substrate("microvm").available(&reason) ||
      !std::filesystem::exists(bench_spec().image + "/microvm.json")) {
    std::printf("microvm_bench: skipped: %s\n",
                reason.empty() ? "scripts/build_microvm.sh failed" : reason.c_str());
    return 0;
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
