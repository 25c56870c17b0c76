#include "server/http/http_request.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace baleen::server::http {
namespace {

const std::string kPost =
    "POST /v1/messages%2Fx?beta=true HTTP/1.1\r\nHost: x\r\ncontent-length: 11\r\nX-Api-Key:  k1 \r\n\r\n"
    "{\"a\": true}";

TEST(HttpRequest, ParsesARequestFedOneByteAtATimeAsWhole) {
  RequestParser whole({});
  ASSERT_EQ(whole.feed(kPost), RequestParser::Stage::kComplete);
  const HttpRequest expected = whole.take();
  EXPECT_EQ(expected.method, "POST");
  EXPECT_EQ(expected.path, "/v1/messages/x");
  EXPECT_EQ(expected.query, "beta=true");
  EXPECT_EQ(expected.header("X-API-KEY"), "k1");
  EXPECT_EQ(expected.header("Content-Length"), "11");
  EXPECT_EQ(expected.body, "{\"a\": true}");
  EXPECT_TRUE(expected.keep_alive());

  RequestParser bytes({});
  for (size_t i = 0; i + 1 < kPost.size(); ++i)
    ASSERT_NE(bytes.feed(kPost.substr(i, 1)), RequestParser::Stage::kComplete) << "complete at byte " << i;
  ASSERT_EQ(bytes.feed(kPost.substr(kPost.size() - 1)), RequestParser::Stage::kComplete);
  const HttpRequest got = bytes.take();
  EXPECT_EQ(got.path, expected.path);
  EXPECT_EQ(got.headers, expected.headers);
  EXPECT_EQ(got.body, expected.body);
}

TEST(HttpRequest, PipelinedRequestsComeOneAfterAnother) {
  RequestParser parser({});
  ASSERT_EQ(parser.feed(kPost + "\r\nGET /health HTTP/1.0\nConnection: keep-alive\n\nGET /x"),
            RequestParser::Stage::kComplete);
  EXPECT_EQ(parser.take().body, "{\"a\": true}");
  ASSERT_EQ(parser.feed({}), RequestParser::Stage::kComplete);  // bare LF line ends are accepted
  const HttpRequest second = parser.take();
  EXPECT_EQ(second.path, "/health");
  EXPECT_EQ(second.minor_version, 0);
  EXPECT_TRUE(second.keep_alive());
  EXPECT_EQ(parser.feed({}), RequestParser::Stage::kHead);
  EXPECT_TRUE(parser.started());
}

TEST(HttpRequest, ConnectionHeaderDecidesKeepAlive) {
  auto keep_alive = [](const std::string& head) {
    RequestParser parser({});
    EXPECT_EQ(parser.feed(head + "\r\n"), RequestParser::Stage::kComplete) << head;
    return parser.take().keep_alive();
  };
  EXPECT_TRUE(keep_alive("GET / HTTP/1.1\r\n"));
  EXPECT_FALSE(keep_alive("GET / HTTP/1.1\r\nConnection: Upgrade, close\r\n"));
  EXPECT_FALSE(keep_alive("GET / HTTP/1.0\r\n"));
  EXPECT_TRUE(keep_alive("GET / HTTP/1.0\r\nconnection: Keep-Alive\r\n"));
}

TEST(HttpRequest, ExpectContinueIsSeenOnlyWithABody) {
  RequestParser parser({});
  EXPECT_EQ(parser.feed("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"),
            RequestParser::Stage::kBody);
  EXPECT_TRUE(parser.expects_continue());
  EXPECT_EQ(parser.feed("ok"), RequestParser::Stage::kComplete);
  parser.take();
  EXPECT_EQ(parser.feed("POST / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n"), RequestParser::Stage::kComplete);
  EXPECT_FALSE(parser.expects_continue());
}

struct BadCase {
  const char* name;
  std::string input;
  int status;
  const char* mention;
};

TEST(HttpRequest, BadRequestsNameWhatIsWrong) {
  const ParseLimits limits{.max_head_bytes = 256, .max_headers = 4, .max_body_bytes = 100};
  const std::vector<BadCase> cases = {
      {"chunked body", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501, "Content-Length"},
      {"malformed length", "POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400, "Content-Length"},
      {"negative length", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, "Content-Length"},
      {"conflicting lengths", "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400,
       "conflicting"},
      {"body over the limit", "POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n", 413, "limit of 100 bytes"},
      {"length beyond 64 bits", "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413,
       "limit"},
      {"HTTP/2", "GET / HTTP/2.0\r\n\r\n", 505, "HTTP/2.0"},
      {"not HTTP", "hello there\r\n\r\n", 400, "request line"},
      {"no version", "GET /\r\n\r\n", 400, "request line"},
      {"bad method", "G(T / HTTP/1.1\r\n\r\n", 400, "method"},
      {"relative target", "GET health HTTP/1.1\r\n\r\n", 400, "target"},
      {"bad percent-encoding", "GET /a%zz HTTP/1.1\r\n\r\n", 400, "percent"},
      {"NUL in the path", "GET /a%00 HTTP/1.1\r\n\r\n", 400, "NUL"},
      {"header without colon", "GET / HTTP/1.1\r\nHost x\r\n\r\n", 400, "header line"},
      {"space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400, "header line"},
      {"obsolete folding", "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", 400, "folding"},
      {"control character", std::string("GET / HTTP/1.1\r\nA: b\x01\r\n\r\n"), 400, "control"},
      {"too many headers", "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n", 431, "headers"},
      {"head over the limit", "GET / HTTP/1.1\r\nA: " + std::string(300, 'a'), 431, "256 bytes"},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.name);
    RequestParser parser(limits);
    try {
      parser.feed(c.input);
      ADD_FAILURE() << "accepted";
    } catch (const HttpError& e) {
      EXPECT_EQ(e.status(), c.status) << e.what();
      EXPECT_NE(std::string(e.what()).find(c.mention), std::string::npos)
          << e.what() << " lacks " << c.mention;
    }
  }
}

// A slow client's head is searched for its end once, not again with every byte.
TEST(HttpRequest, AHeadSentByteByByteIsParsedInLinearTime) {
  RequestParser parser({.max_head_bytes = 1 << 20});
  const std::string head = "GET / HTTP/1.1\r\nX: " + std::string(500000, 'a') + "\r\n\r\n";
  for (char c : head) parser.feed(std::string_view(&c, 1));
  EXPECT_EQ(parser.stage(), RequestParser::Stage::kComplete);
}

}  // namespace
}  // namespace baleen::server::http
