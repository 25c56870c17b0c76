// One HTTP/1.x request as the server reads it, and the incremental parser that reads requests from a
// connection's bytes: the request line and headers within a size limit, then a body of Content-Length
// bytes within another. Bytes after a complete request stay buffered (a pipelined next request). Bad input
// is an HttpError with the status to answer and a message naming what is wrong. Not thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace baleen::server::http {

struct HttpRequest {
  std::string method;
  std::string path;                                          // percent-decoded, without the query
  std::string query;                                         // after '?', as sent
  int minor_version = 1;                                     // HTTP/1.<minor_version>
  std::vector<std::pair<std::string, std::string>> headers;  // as sent, in order
  std::string body;

  // The value of the first header of that name (case-insensitive); "" when there is none.
  std::string_view header(std::string_view name) const;
  // Whether the connection stays open after the response (HTTP/1.1 unless `Connection: close`; HTTP/1.0
  // only with `Connection: keep-alive`).
  bool keep_alive() const;
};

// A request the server cannot serve as sent: `status` is the HTTP status to answer (400, 413, 431, 501, 505).
class HttpError : public Error {
 public:
  HttpError(int status, const std::string& message) : Error(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

struct ParseLimits {
  size_t max_head_bytes = 64 * 1024;  // request line and headers together
  size_t max_headers = 100;
  size_t max_body_bytes = 8u << 20;
};

class RequestParser {
 public:
  enum class Stage { kHead, kBody, kComplete };

  explicit RequestParser(ParseLimits limits) : limits_(limits) {}

  // Appends `data` and parses as far as it goes; returns the stage reached. Throws HttpError (the parser
  // is then unusable). Feeding nothing parses what a take() left buffered.
  Stage feed(std::string_view data);
  Stage stage() const { return stage_; }
  // Whether any byte of the current request has come (a connection between requests has none).
  bool started() const { return stage_ != Stage::kHead || !buffer_.empty(); }
  // The request so far: its line and headers once past kHead (an error answer names its path).
  const HttpRequest& request() const { return request_; }
  // Whether the client waits for `100 Continue` before it sends the body (Expect: 100-continue).
  bool expects_continue() const { return expects_continue_; }
  // The complete request; the parser starts on the next one with the bytes left over.
  HttpRequest take();

 private:
  size_t head_end();  // the length of the head in buffer_ with its blank line; npos while incomplete
  void parse_head(std::string_view head);
  void parse_request_line(std::string_view line);
  void parse_framing();

  ParseLimits limits_;
  Stage stage_ = Stage::kHead;
  std::string buffer_;  // bytes not yet parsed
  HttpRequest request_;
  size_t scanned_ = 0;  // head bytes searched for its end (a slow client's bytes are searched once)
  size_t body_length_ = 0;
  bool expects_continue_ = false;
};

}  // namespace baleen::server::http
