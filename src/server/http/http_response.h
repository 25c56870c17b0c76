// A response as a handler gives it to the HTTP layer: status, headers and a whole body, or a body that is
// streamed (chunked) as it is produced, and the bytes of its head on the wire.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace baleen::server::http {

// Writes one piece of a streamed body; false once the client is gone (or stopped reading).
using ChunkWriter = std::function<bool(std::string_view)>;

struct HttpResponse {
  int status = 200;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;  // besides Content-Type and the framing
  std::string body;
  // When set, the body is streamed instead: this writes it (on the worker that served the request, which it
  // may hold as long as it writes) and returns true once it is complete; false ends the connection
  // without the body's end.
  std::function<bool(const ChunkWriter&)> stream;
};

// "OK", "Not Found", ...; "Unknown" for a status without a phrase here.
std::string_view reason_phrase(int status);

// The status line and headers of `response`, with Content-Length (a whole body) or Transfer-Encoding:
// chunked (a streamed one on HTTP/1.1; on HTTP/1.0 the body ends with the connection), and Connection:
// close unless `keep_alive`.
std::string response_head(const HttpResponse& response, int minor_version, bool keep_alive);

// One piece of a chunked body (RFC 9112 §7.1); the last chunk (an empty piece) ends the body.
std::string chunk(std::string_view data);

}  // namespace baleen::server::http
