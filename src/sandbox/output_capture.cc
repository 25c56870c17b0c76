#include "sandbox/output_capture.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace baleen::sandbox {

namespace {

void make_pipe(Fd* read_end, Fd* write_end) {
  int fds[2];
  bool ok = ::pipe2(fds, O_CLOEXEC) == 0;
  check(ok, "cannot create a pipe: {}", std::strerror(errno));
  *read_end = Fd(fds[0]);
  *write_end = Fd(fds[1]);
}

void set_nonblocking(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

// Reads what is available; returns false at end of file.
bool read_available(int fd, std::string* out, bool* truncated, int64_t cap) {
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno == EAGAIN;
    if (n == 0) return false;
    size_t room =
        cap > 0 && static_cast<int64_t>(out->size()) < cap ? static_cast<size_t>(cap) - out->size() : 0;
    if (cap <= 0) room = static_cast<size_t>(n);
    out->append(buffer, std::min(room, static_cast<size_t>(n)));
    if (static_cast<size_t>(n) > room) *truncated = true;
  }
}

// Milliseconds until the deadline (0 once it has passed), or -1: none, or already expired.
int poll_timeout(const Deadline* deadline, bool expired) {
  if (deadline == nullptr || expired) return -1;
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline->at - std::chrono::steady_clock::now());
  return static_cast<int>(std::clamp<int64_t>(left.count(), 0, 1 << 30));
}

}  // namespace

CommandPipes CommandPipes::open() {
  CommandPipes pipes;
  make_pipe(&pipes.stdin_read, &pipes.stdin_write);
  make_pipe(&pipes.stdout_read, &pipes.stdout_write);
  make_pipe(&pipes.stderr_read, &pipes.stderr_write);
  return pipes;
}

CapturedOutput pump_until_reply(CommandPipes& pipes, std::string_view stdin_data, int control, int64_t cap,
                                const Deadline* deadline) {
  CapturedOutput output;
  int out = pipes.stdout_read.get(), err = pipes.stderr_read.get();
  set_nonblocking(out);
  set_nonblocking(err);
  set_nonblocking(pipes.stdin_write.get());
  size_t written = 0;
  if (stdin_data.empty()) pipes.stdin_write = Fd();
  bool out_open = true, err_open = true, expired = false;
  for (;;) {
    pollfd fds[4] = {{control, POLLIN, 0},
                     {out_open ? out : -1, POLLIN, 0},
                     {err_open ? err : -1, POLLIN, 0},
                     {pipes.stdin_write ? pipes.stdin_write.get() : -1, POLLOUT, 0}};
    int ready = ::poll(fds, 4, poll_timeout(deadline, expired));
    if (ready < 0) {
      check(errno == EINTR, "poll on a command's pipes failed: {}", std::strerror(errno));
      continue;
    }
    if (ready == 0) {
      expired = true;
      deadline->expire();
      continue;
    }
    if (fds[1].revents) out_open = read_available(out, &output.stdout_data, &output.stdout_truncated, cap);
    if (fds[2].revents) err_open = read_available(err, &output.stderr_data, &output.stderr_truncated, cap);
    if (fds[3].revents) {
      ssize_t n = ::write(pipes.stdin_write.get(), stdin_data.data() + written, stdin_data.size() - written);
      if (n > 0) written += static_cast<size_t>(n);
      // EPIPE (the command closed stdin) ends the feeding too.
      if ((n < 0 && errno != EAGAIN && errno != EINTR) || written == stdin_data.size())
        pipes.stdin_write = Fd();
    }
    if (fds[0].revents) break;
  }
  // The command has exited: what it wrote is in the pipes; background children may still hold
  // them open, so read only what is there now.
  read_available(out, &output.stdout_data, &output.stdout_truncated, cap);
  read_available(err, &output.stderr_data, &output.stderr_truncated, cap);
  return output;
}

}  // namespace baleen::sandbox
