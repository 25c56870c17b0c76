// An exec request as every substrate runs it: the argv (the request's, or /bin/sh -c with its shell
// line), the environment (the request's, or default_exec_env()), the working directory (the request's, or
// the sandbox's working directory) and the timeout (the request's, or the limits' default). Throws when
// the request has neither argv nor a shell line.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "sandbox/sandbox.h"

namespace baleen::sandbox {

struct ExecCommand {
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::string cwd;
  std::chrono::milliseconds timeout{0};  // 0: none
};

ExecCommand exec_command(const ExecRequest& request, const Limits& limits, std::string_view working_dir);

// PATH, HOME=/root, TERM=dumb: the environment of an exec whose request names none.
const std::vector<std::string>& default_exec_env();

}  // namespace baleen::sandbox
