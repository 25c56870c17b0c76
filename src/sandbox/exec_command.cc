#include "sandbox/exec_command.h"

#include "core/error.h"

namespace baleen::sandbox {

const std::vector<std::string>& default_exec_env() {
  static const std::vector<std::string> env = {
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "TERM=dumb"};
  return env;
}

ExecCommand exec_command(const ExecRequest& request, const Limits& limits, std::string_view working_dir) {
  ExecCommand command;
  command.argv =
      request.shell.empty() ? request.argv : std::vector<std::string>{"/bin/sh", "-c", request.shell};
  check(!command.argv.empty(), "exec: the request has neither argv nor a shell line");
  command.env = request.env.empty() ? default_exec_env() : request.env;
  command.cwd = request.cwd.empty() ? std::string(working_dir) : request.cwd;
  command.timeout = request.timeout.value_or(limits.wall_timeout);
  return command;
}

}  // namespace baleen::sandbox
