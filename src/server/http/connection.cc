#include "server/http/connection.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace baleen::server::http {

Connection::~Connection() {
  ::close(fd_);
}

bool Connection::peer_closed() const {
  char byte;
  const ssize_t n = ::recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

long Connection::write_some(std::string_view data) const {
  for (;;) {
    // MSG_NOSIGNAL: a client that hung up makes the write fail with EPIPE instead of raising SIGPIPE.
    const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
  }
}

bool Connection::write_all(std::string_view data, std::chrono::milliseconds timeout, int stop_fd) const {
  while (!data.empty()) {
    const long n = write_some(data);
    if (n < 0) return false;
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    pollfd fds[2] = {{fd_, POLLOUT, 0}, {stop_fd, POLLIN, 0}};
    const int ready = ::poll(fds, 2, static_cast<int>(timeout.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0 || (fds[1].revents & POLLIN) || (fds[0].revents & (POLLERR | POLLHUP))) return false;
  }
  return true;
}

}  // namespace baleen::server::http
