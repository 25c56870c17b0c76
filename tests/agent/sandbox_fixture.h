// Shared set-up of the agent tests: a temporary state root, the busybox base image built by
// scripts/build_image.sh (once per test binary), and skipping when the host cannot run sandboxes.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "agent/sandbox/container_sandbox.h"
#include "agent/sandbox/process_sandbox.h"

namespace baleen::agent::testing {

// A fresh directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "baleen-test-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

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

// Whether the host can run `substrate` ("process" or "container"), and if not, why.
inline bool substrate_available(const std::string& substrate, std::string* reason) {
  if (substrate == "container") return ContainerSandbox::available(reason);
  return ProcessSandbox::available(reason);
}

// The image-based substrates the shared suites run over.
inline const char* const kImageSubstrates[] = {"process", "container"};

}  // namespace baleen::agent::testing

// Skips the test with the reason when the substrate or its image is unavailable.
#define BALEEN_REQUIRE_SANDBOX(substrate, image_var)                                           \
  std::string image_var;                                                                       \
  {                                                                                            \
    std::string reason;                                                                        \
    if (!::baleen::agent::testing::substrate_available(substrate, &reason)) GTEST_SKIP() << reason; \
    image_var = ::baleen::agent::testing::base_image(&reason);                                 \
    if (image_var.empty()) GTEST_SKIP() << reason;                                             \
  }
#define BALEEN_REQUIRE_PROCESS_SANDBOX(image_var) BALEEN_REQUIRE_SANDBOX("process", image_var)
