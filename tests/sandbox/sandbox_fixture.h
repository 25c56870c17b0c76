// Shared set-up of the sandbox tests: a temporary state root, the busybox base image built by
// scripts/build_image.sh (once per test binary), and skipping when the host cannot run sandboxes.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "../core/temp_dir.h"
#include "sandbox/sandbox.h"

namespace baleen::sandbox::testing {

using baleen::test::TempDir;

// Runs a shell command; returns whether it succeeded, with its output (trailing newlines cut).
inline bool run_script(const std::string& command, std::string* output) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  char line[4096] = {};
  output->clear();
  while (pipe != nullptr && std::fgets(line, sizeof(line), pipe) != nullptr) *output += line;
  int status = pipe != nullptr ? ::pclose(pipe) : -1;
  while (!output->empty() && output->back() == '\n') output->pop_back();
  return status == 0;
}

// The base image directory, or "" with `reason` set when it cannot be built here.
inline std::string base_image(std::string* reason) {
  static std::string image;  // built once per binary: the script takes a second
  static std::string failure;
  if (image.empty() && failure.empty()) {
    std::string cache = (std::filesystem::temp_directory_path() / "baleen-test-images").string();
    std::string output;
    bool ok = run_script(std::string(BALEEN_SOURCE_DIR) + "/scripts/build_image.sh " + cache, &output);
    if (ok && std::filesystem::exists(output + "/image.json")) {
      image = output;
    } else {
      failure = "scripts/build_image.sh failed: " + output;
    }
  }
  if (reason != nullptr) *reason = failure;
  return image;
}

#ifdef GUEST_AGENT  // binaries that build the guest agent (sandbox_tests) can boot a microvm
// The microvm substrate's boot artifacts from scripts/build_microvm.sh (the kernel is cached in
// ~/.cache/baleen; built once per binary), or "" with `reason` set.
inline std::string microvm_image(std::string* reason) {
  static std::string image;
  static std::string failure;
  if (image.empty() && failure.empty()) {
    std::string output;
    bool ok = run_script(std::string(BALEEN_SOURCE_DIR) + "/scripts/build_microvm.sh " + GUEST_AGENT, &output);
    std::string dir = output.substr(output.rfind('\n') == std::string::npos ? 0 : output.rfind('\n') + 1);
    if (ok && std::filesystem::exists(dir + "/microvm.json")) {
      image = dir;
    } else {
      failure = "scripts/build_microvm.sh failed (no kernel artifact): " + output;
    }
  }
  if (reason != nullptr) *reason = failure;
  return image;
}
#endif

// Whether the host can run `substrate`, and if not, why.
inline bool substrate_available(const std::string& substrate, std::string* reason) {
  return find_substrate(substrate).available(reason);
}

// The image-based substrates the shared suites run over.
inline const char* const kImageSubstrates[] = {"process", "container"};

// One substrate of a shared suite: `process` both in its user namespace and with host ids.
struct SubstrateCase {
  const char* substrate;
  bool user_namespace;  // process: the default user namespace, or host ids
  const char* name;
  std::string (*image)(std::string* reason) = base_image;
  // Where the commands' pids cgroup is seen from inside the sandbox; nullptr: it is the host's,
  // listed in sandbox.json.
  const char* pids_cgroup_inside = nullptr;
  // Whether each sandbox boots afresh from the image's files alone (a VM: no state on the host to
  // carry over), so "the next sandbox is clean" is "the image is unchanged", without another boot.
  bool boots_from_image_alone = false;
};
inline const SubstrateCase kSubstrateCases[] = {
    {"process", true, "process"}, {"process", false, "process_host_ids"}, {"container", false, "container"}};
#ifdef GUEST_AGENT
// The same and `microvm` (KVM when usable, else TCG: each VM costs a boot).
inline const SubstrateCase kEverySubstrateCase[] = {
    kSubstrateCases[0], kSubstrateCases[1], kSubstrateCases[2],
    {"microvm", false, "microvm", microvm_image, "/sys/fs/cgroup/commands", true}};
#endif

// A suite over substrate cases: skips where the host lacks the case's substrate or its image;
// spec() is the case's spec (the image, a state root of the test's own, the user namespace or none).
class SubstrateTest : public ::testing::TestWithParam<SubstrateCase> {
 protected:
  void SetUp() override {
    std::string reason;
    if (!substrate_available(GetParam().substrate, &reason)) GTEST_SKIP() << reason;
    image_ = GetParam().image(&reason);
    if (image_.empty()) GTEST_SKIP() << reason;
  }
  SandboxSpec spec() const {
    SandboxSpec spec;
    spec.image = image_;
    spec.state_root = state_.path();
    if (!GetParam().user_namespace) spec.user_namespace = std::nullopt;
    return spec;
  }

  TempDir state_;
  std::string image_;
};

// A spec with limits a test can check (256 MiB, 64 pids, a 16 MiB writable layer) and a state root of
// the test's own.
inline SandboxSpec spec_for(const std::string& image, const TempDir& state) {
  SandboxSpec spec;
  spec.image = image;
  spec.state_root = state.path();
  spec.limits.memory_bytes = int64_t{256} << 20;
  spec.limits.pids = 64;
  spec.limits.disk_bytes = int64_t{16} << 20;
  spec.limits.wall_timeout = std::chrono::milliseconds(20'000);
  return spec;
}

// A host file's bytes ("" when missing).
inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace baleen::sandbox::testing

// Skips the test with the reason when the substrate or its image is unavailable.
#define BALEEN_REQUIRE_SANDBOX(substrate, image_var)                                                  \
  std::string image_var;                                                                              \
  {                                                                                                   \
    std::string reason;                                                                               \
    if (!::baleen::sandbox::testing::substrate_available(substrate, &reason)) GTEST_SKIP() << reason; \
    image_var = ::baleen::sandbox::testing::base_image(&reason);                                      \
    if (image_var.empty()) GTEST_SKIP() << reason;                                                    \
  }
#define BALEEN_REQUIRE_PROCESS_SANDBOX(image_var) BALEEN_REQUIRE_SANDBOX("process", image_var)
