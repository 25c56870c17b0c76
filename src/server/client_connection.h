// The socket of the request a handler is serving, found by its addresses (cpp-httplib 0.11 does not hand
// it to handlers), so a handler that waits for a generation can tell that its client hung up — the only way
// a non-streaming request notices, since it writes nothing until the end. Valid while the handler runs
// (httplib closes the socket after it returns); not thread-safe.
#pragma once

#include <httplib.h>

namespace baleen::server {

class ClientConnection {
 public:
  explicit ClientConnection(const httplib::Request& req);
  // The peer closed or reset the connection (EOF or an error on a non-blocking peek). A client that only
  // half-closed its side after sending the request reads as gone too. False when the socket was not found.
  bool closed() const;

 private:
  int fd_ = -1;
};

}  // namespace baleen::server
