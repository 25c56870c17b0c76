// Runs a shell command line (the built `baleen` binary in the CLI tests) and captures its exit status
// and its stdout + stderr together.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace baleen::test {

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

}  // namespace baleen::test
