#include "server/http/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <thread>
#include <vector>

namespace baleen::server::http {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// An HttpServer on a free port with three routes: GET /health ("ok"), POST /echo (the body back) and
// GET /stream (a chunk every 10 ms until the client is gone or the test ends it).
struct TestServer {
  explicit TestServer(ConnectionOptions connections, size_t workers = 16, size_t max_body = 1 << 20)
      : server(
            {.connections = connections, .limits = {.max_body_bytes = max_body}, .workers = workers},
            [this](const HttpRequest& req, const Connection&) { return handle(req); },
            [](const HttpRequest&, const HttpError& e) {
              HttpResponse res;
              res.status = e.status();
              res.content_type = "application/json";
              res.body = std::string("{\"error\": \"") + e.what() + "\"}";
              return res;
            }) {
    port = server.bind("127.0.0.1", 0);
    thread = std::thread([this] { server.run(); });
  }
  ~TestServer() {
    end_streams = true;
    server.stop();
    thread.join();
  }

  HttpResponse handle(const HttpRequest& req) {
    HttpResponse res;
    res.content_type = "text/plain";
    if (req.path == "/health") {
      res.body = "ok";
    } else if (req.path == "/echo") {
      res.body = req.body;
    } else if (req.path == "/stream") {
      res.stream = [this](const ChunkWriter& write) {
        const std::string piece(stream_chunk_bytes, 't');
        while (!end_streams) {
          if (!write(piece)) {
            ++streams_cut;
            return false;
          }
          std::this_thread::sleep_for(milliseconds(10));
        }
        return true;
      };
    } else {
      res.status = 404;
    }
    return res;
  }

  HttpServer server;
  int port = 0;
  std::thread thread;
  std::atomic<bool> end_streams{false};
  std::atomic<int> streams_cut{0};
  size_t stream_chunk_bytes = 16;
};

// A blocking client socket to the server; reads give up after 10 s, so a test fails instead of hanging.
int dial(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ADD_FAILURE() << "cannot connect: " << std::strerror(errno);
    return -1;
  }
  const timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  return fd;
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

struct Answer {
  int status = 0;  // 0: the connection ended before a whole response
  std::string head, body;
};

// Reads responses framed by Content-Length from one connection (several, when requests were pipelined).
struct Reader {
  int fd;
  std::string buffer;

  bool fill() {
    char chunk[16384];
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<size_t>(n));
    return true;
  }
  Answer next() {
    size_t end;
    while ((end = buffer.find("\r\n\r\n")) == std::string::npos)
      if (!fill()) return {};
    Answer a;
    a.head = buffer.substr(0, end + 4);
    a.status = std::atoi(a.head.c_str() + 9);
    const size_t at = a.head.find("Content-Length: ");
    const size_t length = at == std::string::npos ? 0 : std::stoul(a.head.substr(at + 16));
    while (buffer.size() < end + 4 + length)
      if (!fill()) return {};
    a.body = buffer.substr(end + 4, length);
    buffer.erase(0, end + 4 + length);
    return a;
  }
  // Whether the server closed the connection (EOF) before `within`.
  bool closed_within(milliseconds within) {
    pollfd p{fd, POLLIN, 0};
    const auto start = Clock::now();
    while (Clock::now() - start < within) {
      if (::poll(&p, 1, 50) > 0) {
        char chunk[4096];
        const ssize_t n = ::recv(fd, chunk, sizeof chunk, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
        if (n > 0) buffer.append(chunk, static_cast<size_t>(n));
      }
    }
    return false;
  }
};

// One request on a new connection: the answer and how long it took, connect included.
Answer round_trip(int port, const std::string& request, double* ms = nullptr) {
  const auto start = Clock::now();
  const int fd = dial(port);
  if (fd < 0) return {};
  Reader reader{fd, {}};
  const Answer a = send_all(fd, request) ? reader.next() : Answer{};
  if (ms) *ms = ms_since(start);
  ::close(fd);
  return a;
}

const std::string kHealth = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";

std::string echo_request(const std::string& body) {
  return "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
         body;
}

int threads_of_this_process() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.starts_with("Threads:")) return std::stoi(line.substr(8));
  return -1;
}

// Raises the soft open-file limit to the hard one; false when even that is below `needed`.
bool enough_open_files(rlim_t needed, rlim_t& hard) {
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &limit);
  hard = limit.rlim_max;
  return limit.rlim_max >= needed;
}

double percentile(std::vector<double> samples, double p) {
  std::sort(samples.begin(), samples.end());
  const size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(samples.size())));
  return samples[std::max<size_t>(rank, 1) - 1];
}

// The acceptance case of issue 19: 1,000 connections held open — idle, slowloris (a header byte every
// 100 ms) and streaming — while /health and a small POST, each on a new connection, are timed.
TEST(HttpServer, ThousandHeldConnectionsDoNotDelayNewRequests) {
  constexpr int kIdle = 890, kSlow = 100, kStreams = 10, kHeld = kIdle + kSlow + kStreams;
  rlim_t hard = 0;
  // Both ends of every held connection live in this process, plus the measured ones and some slack.
  if (!enough_open_files(2 * kHeld + 200, hard))
    GTEST_SKIP() << "the hard open-file limit is " << hard << ", below the " << 2 * kHeld + 200
                 << " this test needs (ulimit -Hn)";
  TestServer t({.max_connections = kHeld + 50, .header_timeout = milliseconds(60'000)});
  std::vector<int> idle, slow, streams;
  for (int i = 0; i < kIdle; ++i) idle.push_back(dial(t.port));
  for (int i = 0; i < kSlow; ++i) {
    slow.push_back(dial(t.port));
    ASSERT_TRUE(send_all(slow.back(), "GET /health HTTP/1.1\r\nX-Slow: "));
  }
  for (int i = 0; i < kStreams; ++i) {
    streams.push_back(dial(t.port));
    ASSERT_TRUE(send_all(streams.back(), "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"));
  }
  std::atomic<bool> done{false};
  std::atomic<size_t> streamed{0};
  std::thread slowloris([&] {
    while (!done) {
      for (int fd : slow) send_all(fd, "a");
      std::this_thread::sleep_for(milliseconds(100));
    }
  });
  std::thread stream_reader([&] {
    std::vector<pollfd> fds;
    for (int fd : streams) fds.push_back({fd, POLLIN, 0});
    char buffer[65536];
    while (!done)
      if (::poll(fds.data(), fds.size(), 50) > 0)
        for (const pollfd& p : fds)
          if (p.revents & POLLIN)
            streamed += std::max<ssize_t>(0, ::recv(p.fd, buffer, sizeof buffer, MSG_DONTWAIT));
  });
  ASSERT_EQ(round_trip(t.port, kHealth).status, 200);  // all held connections are accepted by now

  // At least a second of samples, so that slowloris bytes and stream chunks flow meanwhile.
  std::vector<double> health_ms, post_ms;
  const auto start = Clock::now();
  for (int i = 0; i < 200 || ms_since(start) < 1000; ++i) {
    double ms = 0;
    const Answer h = round_trip(t.port, kHealth, &ms);
    ASSERT_EQ(h.status, 200) << h.head;
    health_ms.push_back(ms);
    const Answer e = round_trip(t.port, echo_request("{\"n\": " + std::to_string(i) + "}"), &ms);
    ASSERT_EQ(e.body, "{\"n\": " + std::to_string(i) + "}");
    post_ms.push_back(ms);
  }
  const int threads = threads_of_this_process();
  done = true;
  slowloris.join();
  stream_reader.join();

  const double health_p99 = percentile(health_ms, 0.99), post_p99 = percentile(post_ms, 0.99);
  std::printf(
      "%d held connections, %zu samples each: GET /health p50 %.2f ms p99 %.2f ms; POST /echo p50 %.2f "
      "ms p99 %.2f ms; %d threads in the process\n",
      kHeld, health_ms.size(), percentile(health_ms, 0.5), health_p99, percentile(post_ms, 0.5), post_p99,
      threads);
  RecordProperty("health_p99_ms", std::to_string(health_p99));
  RecordProperty("post_p99_ms", std::to_string(post_p99));
  EXPECT_LE(health_p99, 100.0);
  EXPECT_LE(post_p99, 100.0);
  // The server's threads: the event loop and its 16 workers; the test's: main, two drivers, gtest's none.
  EXPECT_LT(threads, 40) << "a thread per connection?";
  EXPECT_GT(streamed, 0u) << "the streams sent nothing";
  // Every held connection was kept, none refused or dropped.
  int open = 0;
  for (const std::vector<int>* group : {&idle, &slow}) {
    for (int fd : *group) {
      char byte;
      open += ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && errno == EAGAIN;
      ::close(fd);
    }
  }
  EXPECT_EQ(open, kIdle + kSlow);
  for (int fd : streams) ::close(fd);
}

TEST(HttpServer, SlowlorisIsAnswered408AfterTheHeaderTimeout) {
  TestServer t({.header_timeout = milliseconds(300)});
  const int fd = dial(t.port);
  Reader reader{fd, {}};
  const auto start = Clock::now();
  ASSERT_TRUE(send_all(fd, "GET /health HTTP/1.1\r\nX-Slow: "));
  bool cut = false;
  for (int i = 0; i < 40 && !cut; ++i) {  // a byte every 50 ms: each arrives in time, the head never does
    cut = !send_all(fd, "a") || reader.closed_within(milliseconds(50));
  }
  const double elapsed = ms_since(start);
  EXPECT_TRUE(cut) << "still open after 2 s";
  EXPECT_GE(elapsed, 290);
  EXPECT_NE(reader.buffer.find("408"), std::string::npos) << reader.buffer;
  EXPECT_NE(reader.buffer.find("headers did not arrive within 300 ms"), std::string::npos) << reader.buffer;
  ::close(fd);
  EXPECT_EQ(round_trip(t.port, kHealth).status, 200);
}

TEST(HttpServer, SlowBodyIsAnswered408AfterTheBodyTimeout) {
  TestServer t({.body_timeout = milliseconds(300)});
  const int fd = dial(t.port);
  Reader reader{fd, {}};
  ASSERT_TRUE(send_all(fd, "POST /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\n0123456789"));
  const auto start = Clock::now();
  const Answer a = reader.next();
  EXPECT_EQ(a.status, 408) << a.head;
  EXPECT_NE(a.body.find("body did not arrive within 300 ms"), std::string::npos) << a.body;
  EXPECT_GE(ms_since(start), 250);
  EXPECT_TRUE(reader.closed_within(milliseconds(3000)));
  ::close(fd);
}

TEST(HttpServer, ConnectionsBeyondTheLimitAre503) {
  TestServer t({.max_connections = 4});
  std::vector<int> held;
  for (int i = 0; i < 4; ++i) held.push_back(dial(t.port));
  const Answer refused = round_trip(t.port, kHealth);
  EXPECT_EQ(refused.status, 503) << refused.head;
  EXPECT_NE(refused.head.find("application/json"), std::string::npos) << refused.head;
  EXPECT_NE(refused.body.find("limit of 4 connections"), std::string::npos) << refused.body;
  ::close(held.back());
  held.pop_back();
  // The server sees the close on its next wake-up.
  int status = 0;
  for (int i = 0; i < 40 && status != 200; ++i) {
    status = round_trip(t.port, kHealth).status;
    if (status != 200) std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_EQ(status, 200);
  for (int fd : held) ::close(fd);
}

TEST(HttpServer, KeepAliveServesPipelinedRequestsInOrderThenIdlesOut) {
  TestServer t({.keep_alive_timeout = milliseconds(300)});
  const int fd = dial(t.port);
  Reader reader{fd, {}};
  ASSERT_TRUE(send_all(fd, echo_request("one") + kHealth + echo_request("three")));
  EXPECT_EQ(reader.next().body, "one");
  EXPECT_EQ(reader.next().body, "ok");
  EXPECT_EQ(reader.next().body, "three");
  ASSERT_TRUE(send_all(fd, echo_request("again")));  // the same connection serves on
  EXPECT_EQ(reader.next().body, "again");
  const auto start = Clock::now();
  EXPECT_TRUE(reader.closed_within(milliseconds(3000)));
  EXPECT_GE(ms_since(start), 250);
  ::close(fd);
}

TEST(HttpServer, OversizedAndChunkedBodiesAreRefusedAndTheClientReadsWhy) {
  TestServer t({}, 16, /*max_body=*/1024);
  // The client sends its whole 1 MB body before it reads: the server drains it rather than reset the
  // connection, which would lose the answer.
  const Answer big = round_trip(t.port, echo_request(std::string(1 << 20, 'x')));
  EXPECT_EQ(big.status, 413) << big.head;
  EXPECT_NE(big.body.find("limit of 1024 bytes"), std::string::npos) << big.body;
  const Answer chunked =
      round_trip(t.port, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n");
  EXPECT_EQ(chunked.status, 501) << chunked.head;
  EXPECT_NE(chunked.body.find("Content-Length"), std::string::npos) << chunked.body;
}

TEST(HttpServer, ABodyAwaitingContinueGetsIt) {
  TestServer t({});
  const int fd = dial(t.port);
  Reader reader{fd, {}};
  ASSERT_TRUE(send_all(fd, "POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"));
  EXPECT_EQ(reader.next().status, 100);
  ASSERT_TRUE(send_all(fd, "ok"));
  const Answer a = reader.next();
  EXPECT_EQ(a.status, 200) << a.head;
  EXPECT_EQ(a.body, "ok");
  ::close(fd);
}

TEST(HttpServer, AClientThatStopsReadingIsCutOffAfterTheWriteTimeout) {
  TestServer t({.write_timeout = milliseconds(300)}, /*workers=*/2);
  t.stream_chunk_bytes = 256 * 1024;  // fills the socket buffers within a few writes
  const int fd = dial(t.port);
  ASSERT_TRUE(send_all(fd, "GET /stream HTTP/1.1\r\n\r\n"));  // and never reads
  const auto start = Clock::now();
  while (t.streams_cut == 0 && ms_since(start) < 5000) std::this_thread::sleep_for(milliseconds(20));
  EXPECT_EQ(t.streams_cut, 1) << "the stream's worker is still held after 5 s";
  EXPECT_EQ(round_trip(t.port, kHealth).status, 200);
  ::close(fd);
}

TEST(HttpServer, StopEndsHeldConnectionsAndStreamsAndRunReturns) {
  auto t = std::make_unique<TestServer>(ConnectionOptions{});
  const int idle = dial(t->port);
  const int stream = dial(t->port);
  ASSERT_TRUE(send_all(stream, "GET /stream HTTP/1.1\r\n\r\n"));
  Reader streamed{stream, {}};
  ASSERT_TRUE(streamed.fill());
  const auto start = Clock::now();
  t.reset();  // stop(), then join run()
  EXPECT_LT(ms_since(start), 2000);
  Reader reader{idle, {}};
  EXPECT_TRUE(reader.closed_within(milliseconds(1000)));
  EXPECT_TRUE(streamed.closed_within(milliseconds(1000)));
  ::close(idle);
  ::close(stream);
}

}  // namespace
}  // namespace baleen::server::http
