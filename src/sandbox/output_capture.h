// The host side of a command's stdio: feeds stdin and collects stdout/stderr through pipes, each
// kept up to a cap (the rest is read and dropped, so the command never blocks), until a reply
// arrives on a control socket. Used by substrates whose commands run in another process.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "sandbox/confined_path.h"

namespace baleen::sandbox {

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

// A time limit enforced by the host side: `expire` (which kills the command) runs once when `at`
// passes before the reply; pumping then goes on until the reply.
struct Deadline {
  std::chrono::steady_clock::time_point at;
  std::function<void()> expire;
};

// Pumps the pipes until `control` is readable (the reply), then drains what the command left in
// the pipes and returns. The caller has closed the command's ends already.
CapturedOutput pump_until_reply(CommandPipes& pipes, std::string_view stdin_data, int control, int64_t cap,
                                const Deadline* deadline = nullptr);

}  // namespace baleen::sandbox
