// One accepted client socket, non-blocking and owned (closed with the object). The event loop reads it; the
// worker serving a request writes the response with a deadline per write; a handler asks it whether the
// client hung up. Used by one thread at a time.
#pragma once

#include <chrono>
#include <string_view>

namespace baleen::server::http {

class Connection {
 public:
  explicit Connection(int fd) : fd_(fd) {}
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  int fd() const { return fd_; }
  // The peer closed or reset the connection (EOF or an error on a non-blocking peek). A client that only
  // half-closed its side after sending the request reads as gone too.
  bool peer_closed() const;
  // Writes all of `data`, waiting while the client's receive window is full. False when the client is gone,
  // when it took none of the bytes for `timeout`, or when `stop_fd` is readable while the write waits
  // (the server stopping).
  bool write_all(std::string_view data, std::chrono::milliseconds timeout, int stop_fd) const;
  // Writes what the socket takes now; the bytes written, or -1 when the client is gone.
  long write_some(std::string_view data) const;

 private:
  int fd_;
};

}  // namespace baleen::server::http
