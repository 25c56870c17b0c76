// baleen-nano behind a real server on a free port, for the server's tests: the suite shares one loaded
// model and one server (null, tests skipped, without a tokenizer or unpacked shards); a test that needs
// other options starts its own server over the same model (ScopedServer). Only one server generates at a
// time: the tests of a binary run one after another.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>

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

inline bool start(Served& out) {
  const auto tok = tokenizer::default_tokenizer_path();
  const std::string dir = std::string(BALEEN_SOURCE_DIR) + "/models/baleen-nano";
  if (!std::filesystem::exists(tok) || !std::filesystem::exists(dir + "/model-00001-of-00002.safetensors"))
    return false;
  out.model = std::make_unique<session::LoadedModel>(dir, tok, session::ModelOptions{.threads = 2});
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

inline httplib::Client client(int port) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(120);
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

}  // namespace baleen::server
