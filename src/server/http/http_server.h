// baleen's HTTP/1.1 server: one event-loop thread (epoll) holds every connection while it is idle or its
// request is being read — so idle and slow clients cost no thread — and a complete request runs on a fixed
// pool of workers, which write the response (a streamed one for as long as it lasts). Connections beyond
// the limit get a 503; a request whose head or body does not arrive in time gets a 408; an idle
// keep-alive connection is closed after its timeout; a write the client does not take within the write
// timeout ends the connection. bind() and run() once each; stop() is thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "server/http/connection.h"
#include "server/http/http_request.h"
#include "server/http/http_response.h"

namespace baleen::server::http {

struct ConnectionOptions {
  size_t max_connections = 1024;  // open at once; one more is answered 503 and closed
  std::chrono::milliseconds header_timeout{
      10'000};  // from a request's first byte (or the accept) to its headers' end
  std::chrono::milliseconds body_timeout{60'000};        // from the headers' end to the body's last byte
  std::chrono::milliseconds keep_alive_timeout{60'000};  // an idle connection between requests
  std::chrono::milliseconds write_timeout{30'000};       // a response write the client takes nothing of
};

struct HttpServerOptions {
  ConnectionOptions connections;
  ParseLimits limits;
  size_t workers = 16;  // requests served at once (a streamed response holds its worker)
};

class HttpServer {
 public:
  // Answers a complete request on a worker; `client` tells whether the client hung up meanwhile. An
  // exception becomes a 500 through the ErrorResponder.
  using Handler = std::function<HttpResponse(const HttpRequest& request, const Connection& client)>;
  // The answer to a request the server refuses itself (malformed, too large, too slow, over the connection
  // limit): `request` holds what was read of it (maybe nothing). Runs on the event loop: it must be quick.
  using ErrorResponder = std::function<HttpResponse(const HttpRequest& request, const HttpError& error)>;

  HttpServer(HttpServerOptions options, Handler handler, ErrorResponder errors);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Listens on host:port (port 0: a free one) and returns the port; raises the soft limit of open files to
  // the hard limit. Throws Error on failure.
  int bind(const std::string& host, int port);
  // Serves until stop(); returns once the requests being served have ended.
  void run();
  // Stops accepting, closes idle and half-read connections, ends waiting writes; responses being written
  // finish. Thread-safe, idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace baleen::server::http
