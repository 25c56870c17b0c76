// Runs a shell command line (the built `baleen` binary in the CLI tests) and captures its exit status
// and its stdout + stderr together; whether the committed baleen-nano is there to run.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "tokenizer/tokenizer.h"

namespace baleen::agent::testing {

struct Outcome {
  int status;  // exit status, -1 when killed by a signal
  std::string out;
};

inline Outcome run_command_line(const std::string& command) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  std::string out;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// The shards are committed gzipped; scripts/setup.sh unpacks them.
inline bool nano_available() {
  return std::filesystem::exists(tokenizer::default_tokenizer_path()) &&
         std::filesystem::exists(std::string(BALEEN_SOURCE_DIR) +
                                 "/models/baleen-nano/model-00001-of-00002.safetensors");
}

}  // namespace baleen::agent::testing
