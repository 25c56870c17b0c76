#include "server/http/http_server.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core/log.h"
#include "core/worker_pool.h"

namespace baleen::server::http {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How long a refused connection may take to read its answer before it is closed: the request it sent is
// drained meanwhile, as closing with unread bytes would reset the connection and lose the answer.
constexpr milliseconds kLinger{2000};
// Refused connections lingering at once beyond the limit; more are closed at once (a flood of them).
constexpr size_t kMaxLingering = 256;
// The event loop's longest sleep: timeouts are checked this often.
constexpr int kTickMs = 50;

// A connection as the event loop sees it.
struct Client {
  Client(int fd, const ParseLimits& limits) : connection(fd), parser(limits) {}

  enum class State { kReading, kServing, kClosing };
  // What a reading connection waits for, each with its own timeout.
  enum class Phase { kIdle, kHead, kBody };

  Connection connection;
  RequestParser parser;
  State state = State::kReading;
  Phase phase = Phase::kHead;
  Clock::time_point deadline;
  std::string pending;    // what the loop still has to write (100 Continue, its own answers)
  bool counted = true;    // within the connection limit (false: refused, lingering over its 503)
  bool reusable = false;  // set by the worker: the connection may serve another request
  bool closed = false;    // closed by the loop; destroyed at the end of the current batch of events
};

void raise_open_file_limit(size_t wanted) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  if (limit.rlim_cur < wanted)
    log::warn(
        "the open-file limit ({}) is below --max-connections ({}): connections beyond it are refused "
        "at accept (raise ulimit -n)",
        limit.rlim_cur, wanted);
}

void add(int epoll, int fd, uint32_t events) {
  epoll_event e{};
  e.events = events;
  e.data.fd = fd;
  check(::epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &e) == 0, "epoll_ctl: {}", std::strerror(errno));
}

void modify(int epoll, int fd, uint32_t events) {
  epoll_event e{};
  e.events = events;
  e.data.fd = fd;
  ::epoll_ctl(epoll, EPOLL_CTL_MOD, fd, &e);
}

}  // namespace

struct HttpServer::Impl {
  Impl(HttpServerOptions o, Handler h, ErrorResponder e)
      : options(std::move(o)),
        handler(std::move(h)),
        errors(std::move(e)),
        epoll(::epoll_create1(EPOLL_CLOEXEC)),
        wake_fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
        stop_fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
        pool(options.workers) {
    check(epoll >= 0 && wake_fd >= 0 && stop_fd >= 0, "cannot create the server's event loop: {}",
          std::strerror(errno));
    add(epoll, wake_fd, EPOLLIN);
    add(epoll, stop_fd, EPOLLIN);
  }
  ~Impl() {
    if (listen_fd >= 0) ::close(listen_fd);
    ::close(epoll);
    ::close(wake_fd);
    ::close(stop_fd);
  }

  void loop();
  void accept_all(Clock::time_point now);
  void on_event(Client& c, uint32_t events, Clock::time_point now);
  void read(Client& c, Clock::time_point now);
  void advance(Client& c, RequestParser::Stage stage, Clock::time_point now);
  void dispatch(Client& c);
  void serve(Client& c, const HttpRequest& request);
  bool write_response(const Client& c, const HttpRequest& request, const HttpResponse& response, bool keep);
  void take_returned(Clock::time_point now);
  void refuse(Client& c, const HttpError& error, Clock::time_point now);
  void flush(Client& c);
  void close(Client& c);
  void expire(Clock::time_point now);
  void begin_stop();

  const HttpServerOptions options;
  const Handler handler;
  const ErrorResponder errors;
  int listen_fd = -1;
  const int epoll, wake_fd, stop_fd;
  std::atomic<bool> stopping{false};

  // The event loop's own (touched by no other thread): every connection by fd.
  std::unordered_map<int, std::unique_ptr<Client>> clients;
  // Closed in this batch of events, erased after it, so that their fds are not reused within it.
  std::vector<int> graveyard;
  size_t counted = 0, lingering = 0, serving = 0;
  Clock::time_point accept_paused_until{};  // out of file descriptors: accepting waits
  bool listening = false;

  std::mutex returned_mutex;
  std::vector<Client*> returned;  // served by a worker, back to the loop (wake_fd says so)

  WorkerPool pool;  // last: destroyed (joined) first, while everything its tasks touch still exists
};

void HttpServer::Impl::loop() {
  listening = true;
  add(epoll, listen_fd, EPOLLIN);
  std::vector<epoll_event> events(256);
  while (!(stopping && serving == 0)) {
    const int n = ::epoll_wait(epoll, events.data(), static_cast<int>(events.size()), kTickMs);
    check(n >= 0 || errno == EINTR, "epoll_wait: {}", std::strerror(errno));
    const Clock::time_point now = Clock::now();
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == listen_fd) {
        accept_all(now);
      } else if (fd == wake_fd) {
        take_returned(now);
      } else if (fd == stop_fd) {
        begin_stop();
      } else if (auto it = clients.find(fd); it != clients.end() && !it->second->closed) {
        on_event(*it->second, events[i].events, now);
      }
    }
    expire(now);
    for (int fd : graveyard) clients.erase(fd);
    graveyard.clear();
  }
  clients.clear();
}

void HttpServer::Impl::accept_all(Clock::time_point now) {
  for (int i = 0; i < 64; ++i) {
    const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE) {
        // The pending connection stays in the backlog, so a level-triggered listener would wake the loop
        // at once again: stop watching it for a tick.
        log::warn("accept: {} (open connections: {})", std::strerror(errno), clients.size());
        modify(epoll, listen_fd, 0);
        accept_paused_until = now + milliseconds(100);
      }
      return;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // SSE events go out as they come
    auto client = std::make_unique<Client>(fd, options.limits);
    Client& c = *client;
    clients.emplace(fd, std::move(client));
    add(epoll, fd, EPOLLIN);
    if (counted >= options.connections.max_connections) {
      c.counted = false;
      ++lingering;
      refuse(c,
             HttpError(503, fmt::format("the server has reached its limit of {} connections; retry later",
                                        options.connections.max_connections)),
             now);
      if (lingering > kMaxLingering) close(c);
      continue;
    }
    ++counted;
    c.deadline = now + options.connections.header_timeout;
  }
}

void HttpServer::Impl::on_event(Client& c, uint32_t events, Clock::time_point now) {
  if (c.state == Client::State::kServing) return;
  if ((events & EPOLLOUT) && !c.pending.empty()) flush(c);
  if (!c.closed && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) read(c, now);
}

void HttpServer::Impl::read(Client& c, Clock::time_point now) {
  char buffer[16384];
  // A bounded number of reads per wake-up, so one fast sender cannot hold up the others.
  for (int i = 0; i < 16 && c.state != Client::State::kServing && !c.closed; ++i) {
    const ssize_t n = ::recv(c.connection.fd(), buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) {
      close(c);  // the client hung up (mid-request: it gave up) or the connection failed
      return;
    }
    if (c.state == Client::State::kClosing) continue;  // drained: the answer is already given
    try {
      advance(c, c.parser.feed(std::string_view(buffer, static_cast<size_t>(n))), now);
    } catch (const HttpError& e) {
      refuse(c, e, now);
    }
  }
}

// Moves a reading connection on to the deadline of what it waits for now, or to a worker.
void HttpServer::Impl::advance(Client& c, RequestParser::Stage stage, Clock::time_point now) {
  const ConnectionOptions& o = options.connections;
  if (stage == RequestParser::Stage::kComplete) {
    dispatch(c);
  } else if (stage == RequestParser::Stage::kBody && c.phase != Client::Phase::kBody) {
    c.phase = Client::Phase::kBody;
    c.deadline = now + o.body_timeout;
    if (c.parser.expects_continue()) {
      c.pending += "HTTP/1.1 100 Continue\r\n\r\n";
      flush(c);
    }
  } else if (stage == RequestParser::Stage::kHead && c.phase == Client::Phase::kIdle && c.parser.started()) {
    c.phase = Client::Phase::kHead;
    c.deadline = now + o.header_timeout;
  }
}

void HttpServer::Impl::dispatch(Client& c) {
  c.state = Client::State::kServing;
  ::epoll_ctl(epoll, EPOLL_CTL_DEL, c.connection.fd(), nullptr);
  ++serving;
  pool.submit([this, &c, request = c.parser.take()] { serve(c, request); });
}

// On a worker: the handler's answer, written; then the connection goes back to the loop.
void HttpServer::Impl::serve(Client& c, const HttpRequest& request) {
  HttpResponse response;
  try {
    response = handler(request, c.connection);
  } catch (const std::exception& e) {
    log::error("request {} {} failed: {}", request.method, request.path, e.what());
    response = errors(request, HttpError(500, e.what()));
  }
  const bool keep = request.keep_alive() && !stopping && !(response.stream && request.minor_version == 0);
  c.reusable = write_response(c, request, response, keep) && keep;
  {
    std::lock_guard lock(returned_mutex);
    returned.push_back(&c);
  }
  const uint64_t one = 1;
  (void)!::write(wake_fd, &one, sizeof one);
}

bool HttpServer::Impl::write_response(const Client& c, const HttpRequest& request,
                                      const HttpResponse& response, bool keep) {
  const auto write = [&](std::string_view data) {
    return data.empty() || c.connection.write_all(data, options.connections.write_timeout, stop_fd);
  };
  if (!write(c.pending)) return false;  // a 100 Continue the loop could not write at once
  std::string head = response_head(response, request.minor_version, keep);
  if (!response.stream) {
    if (request.method != "HEAD") head += response.body;
    return write(head);
  }
  if (!write(head)) return false;
  const bool chunked = request.minor_version >= 1;
  const ChunkWriter writer = [&](std::string_view data) {
    return data.empty() || write(chunked ? chunk(data) : std::string(data));
  };
  return response.stream(writer) && (!chunked || write(chunk({})));
}

void HttpServer::Impl::take_returned(Clock::time_point now) {
  uint64_t count;
  (void)!::read(wake_fd, &count, sizeof count);
  std::vector<Client*> back;
  {
    std::lock_guard lock(returned_mutex);
    back.swap(returned);
  }
  for (Client* c : back) {
    --serving;
    c->pending.clear();
    if (!c->reusable || stopping) {
      close(*c);
      continue;
    }
    c->state = Client::State::kReading;
    c->phase = Client::Phase::kIdle;
    c->deadline = now + options.connections.keep_alive_timeout;
    add(epoll, c->connection.fd(), EPOLLIN);
    try {
      advance(*c, c->parser.feed({}), now);  // a pipelined request may already be buffered
    } catch (const HttpError& e) {
      refuse(*c, e, now);
    }
  }
}

// Answers a request the server will not serve, then lingers until the client has read the answer.
void HttpServer::Impl::refuse(Client& c, const HttpError& error, Clock::time_point now) {
  HttpResponse response = errors(c.parser.request(), error);
  response.stream = nullptr;
  c.pending += response_head(response, 1, /*keep_alive=*/false) + response.body;
  c.state = Client::State::kClosing;
  c.deadline = now + kLinger;
  flush(c);
}

void HttpServer::Impl::flush(Client& c) {
  const long n = c.connection.write_some(c.pending);
  if (n < 0) {
    close(c);
    return;
  }
  c.pending.erase(0, static_cast<size_t>(n));
  if (!c.pending.empty()) {
    modify(epoll, c.connection.fd(), EPOLLIN | EPOLLOUT);
    return;
  }
  modify(epoll, c.connection.fd(), EPOLLIN);
  if (c.state == Client::State::kClosing) ::shutdown(c.connection.fd(), SHUT_WR);
}

void HttpServer::Impl::close(Client& c) {
  if (c.closed) return;
  c.closed = true;
  ::epoll_ctl(epoll, EPOLL_CTL_DEL, c.connection.fd(), nullptr);
  if (c.counted)
    --counted;
  else
    --lingering;
  graveyard.push_back(c.connection.fd());
}

void HttpServer::Impl::expire(Clock::time_point now) {
  if (listening && accept_paused_until != Clock::time_point{} && now >= accept_paused_until) {
    accept_paused_until = {};
    modify(epoll, listen_fd, EPOLLIN);
  }
  const ConnectionOptions& o = options.connections;
  for (auto& [fd, client] : clients) {
    Client& c = *client;
    if (c.closed || c.state == Client::State::kServing || now < c.deadline) continue;
    // A connection that has sent nothing (new or between requests) is closed without an answer.
    if (c.state == Client::State::kClosing || !c.parser.started()) {
      close(c);
    } else if (c.phase == Client::Phase::kBody) {
      refuse(
          c,
          HttpError(408, fmt::format("the request body did not arrive within {} ms", o.body_timeout.count())),
          now);
    } else {
      refuse(c,
             HttpError(408, fmt::format("the request headers did not arrive within {} ms",
                                        o.header_timeout.count())),
             now);
    }
  }
}

void HttpServer::Impl::begin_stop() {
  ::epoll_ctl(epoll, EPOLL_CTL_DEL, stop_fd, nullptr);  // stays readable: waiting writes see it
  if (listening) {
    ::epoll_ctl(epoll, EPOLL_CTL_DEL, listen_fd, nullptr);
    ::close(listen_fd);
    listen_fd = -1;
    listening = false;
  }
  for (auto& [fd, client] : clients)
    if (client->state != Client::State::kServing) close(*client);
}

HttpServer::HttpServer(HttpServerOptions options, Handler handler, ErrorResponder errors)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler), std::move(errors))) {}

HttpServer::~HttpServer() = default;

int HttpServer::bind(const std::string& host, int port) {
  check(impl_->listen_fd < 0, "the server is already bound");
  raise_open_file_limit(impl_->options.connections.max_connections + 64);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  const int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found);
  check(rc == 0, "cannot listen on {}:{}: {}", host, port, ::gai_strerror(rc));
  int error = 0;
  for (const addrinfo* a = found; a && impl_->listen_fd < 0; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    const int one = 1;
    // SOMAXCONN: a burst of connections (64 agents starting at once) must not overflow the backlog.
    if (fd >= 0 && ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
        ::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, SOMAXCONN) == 0) {
      impl_->listen_fd = fd;
      break;
    }
    error = errno;
    if (fd >= 0) ::close(fd);
  }
  ::freeaddrinfo(found);
  check(impl_->listen_fd >= 0, "cannot listen on {}:{}: {}", host, port, std::strerror(error));
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  ::getsockname(impl_->listen_fd, reinterpret_cast<sockaddr*>(&bound), &length);
  return bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<const sockaddr_in6&>(bound).sin6_port)
                                     : ntohs(reinterpret_cast<const sockaddr_in&>(bound).sin_port);
}

void HttpServer::run() {
  check(impl_->listen_fd >= 0 || impl_->stopping, "HttpServer::run before bind");
  if (impl_->stopping) return;
  impl_->loop();
}

void HttpServer::stop() {
  if (impl_->stopping.exchange(true)) return;
  const uint64_t one = 1;
  (void)!::write(impl_->stop_fd, &one, sizeof one);
}

}  // namespace baleen::server::http
