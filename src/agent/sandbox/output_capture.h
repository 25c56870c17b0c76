// The host side of a command's stdio: feeds stdin and collects stdout/stderr through pipes, each
// kept up to a cap (the rest is read and dropped, so the command never blocks), until a reply
// arrives on a control socket. Used by substrates whose commands run in another process.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "agent/sandbox/confined_path.h"

namespace baleen::agent {

struct CommandPipes {
  Fd stdin_read, stdin_write;
  Fd stdout_read, stdout_write;
  Fd stderr_read, stderr_write;
  static CommandPipes open();
};

struct CapturedOutput {
  std::string stdout_data, stderr_data;
  bool stdout_truncated = false, stderr_truncated = false;
};

// Pumps the pipes until `control` is readable (the reply), then drains what the command left in
// the pipes and returns. The caller has closed the command's ends already.
CapturedOutput pump_until_reply(CommandPipes& pipes, std::string_view stdin_data, int control, int64_t cap);

}  // namespace baleen::agent
