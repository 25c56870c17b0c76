// baleen-nano behind a real server on a free port, for the server's tests: the suite shares one loaded
// model and one server (null, tests skipped, without a tokenizer or unpacked shards); a test that needs
// other options starts its own server over the same model (ScopedServer). Only one server generates at a
// time: the tests of a binary run one after another.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "server/server.h"
#include "session/loaded_model.h"

namespace baleen::server {

inline constexpr int64_t kMaxContext = 2048;
inline constexpr size_t kMaxBody = 64 * 1024;

struct Served {
  std::unique_ptr<session::LoadedModel> model;
  std::unique_ptr<Server> server;
  std::thread thread;
  int port = 0;

  ~Served() {
    if (!server) return;
    server->stop();
    thread.join();
  }
};

inline ServerOptions serve_options(const session::TurnOptions& defaults) {
  ServerOptions o;
  o.model_name = "baleen-nano";
  o.defaults = defaults;
  o.max_context = kMaxContext;
  o.max_body_bytes = kMaxBody;
  return o;
}

// baleen-nano on a backend of its own (a test that measures state memory); null without the files.
inline std::unique_ptr<session::LoadedModel> load_nano() {
  const auto tok = tokenizer::default_tokenizer_path();
  const std::string dir = std::string(BALEEN_SOURCE_DIR) + "/models/baleen-nano";
  if (!std::filesystem::exists(tok) || !std::filesystem::exists(dir + "/model-00001-of-00002.safetensors"))
    return nullptr;
  return std::make_unique<session::LoadedModel>(dir, tok, session::ModelOptions{.threads = 2});
}

inline bool start(Served& out) {
  out.model = load_nano();
  if (!out.model) return false;
  session::TurnOptions defaults;
  defaults.max_tokens = 96;
  out.server = std::make_unique<Server>(*out.model, serve_options(defaults));
  out.port = out.server->bind("127.0.0.1", 0);
  out.thread = std::thread([server = out.server.get()] { server->run(); });
  return true;
}

inline Served* served() {
  static Served s;
  static const bool ready = start(s);
  return ready ? &s : nullptr;
}

// A server of its own over the suite's model, stopped when the test ends.
struct ScopedServer {
  ScopedServer(session::LoadedModel& model, const ServerOptions& options) : server(model, options) {
    port = server.bind("127.0.0.1", 0);
    thread = std::thread([this] { server.run(); });
  }
  ~ScopedServer() {
    server.stop();
    thread.join();
  }
  Server server;
  int port = 0;
  std::thread thread;
};

#define REQUIRE_NANO()  \
  Served* s = served(); \
  if (!s) GTEST_SKIP() << "no tokenizer or unpacked baleen-nano (scripts/setup.sh)"

// The read timeout is patience, not a latency bar: under ASan on two loaded cores a batch of four
// preempting generations took over 120 s to answer (2026-12-04), so a reply may take up to 10 minutes.
inline httplib::Client client(int port) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(600);
  return c;
}

struct Reply {
  int status = 0;
  chat::Json body;
};

inline Reply post(int port, const chat::Json& body, const std::string& path = "/v1/chat/completions") {
  auto res = client(port).Post(path, body.dump(), "application/json");
  if (!res) return {};
  return {res->status, chat::Json::parse(res->body)};
}

// A raw connection to the server (a client that can send anything, or hang up at any moment).
inline int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  return fd;
}

// Sends a request on a raw socket; returns the socket.
inline int send_request(int port, const chat::Json& request, const std::string& path) {
  const int fd = connect_to(port);
  const std::string body = request.dump();
  const std::string all = fmt::format(
      "POST {} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: {}\r\n\r\n{}",
      path, body.size(), body);
  EXPECT_EQ(::send(fd, all.data(), all.size(), 0), static_cast<ssize_t>(all.size()));
  return fd;
}

// Reads from the socket until `marker` has come (or the connection ended).
inline std::string read_until(int fd, const std::string& marker) {
  std::string got;
  char buf[4096];
  while (got.find(marker) == std::string::npos) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  EXPECT_NE(got.find(marker), std::string::npos) << got;
  return got;
}

// Sends a streaming request on a raw socket and reads until `marker` (generation has started); returns the
// open socket.
inline int open_stream(int port, const chat::Json& request, const std::string& path = "/v1/chat/completions",
                       const std::string& marker = "\"delta\":{\"content\"") {
  const int fd = send_request(port, request, path);
  read_until(fd, marker);
  return fd;
}

inline std::string read_to_end(int fd) {
  std::string got;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) got.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return got;
}

// Hot sampling keeps nano from ending the turn on its own, so only a hang-up or stop() ends it early. The
// seed is one on which the shipped nano starts with content (on others it may open a tool call or stop
// early).
inline chat::Json endless_stream_request() {
  return {{"messages", {{{"role", "user"}, {"content", "Tell me a long story."}}}},
          {"temperature", 2.0},
          {"seed", 2},
          {"max_tokens", 2000},
          {"stream", true}};
}

}  // namespace baleen::server
