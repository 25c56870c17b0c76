#include "server/http/http_request.h"

#include <algorithm>
#include <charconv>

namespace baleen::server::http {
namespace {

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

// RFC 9110 tchar: the characters of a method or header name.
bool token_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), token_char);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Whether a comma-separated header value (Connection, Expect) lists `token`, case-insensitively.
bool lists(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const size_t comma = value.find(',');
    if (iequals(trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decoded(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] != '%') {
      out += path[i];
      continue;
    }
    const int hi = i + 2 < path.size() ? hex_digit(path[i + 1]) : -1;
    const int lo = hi >= 0 ? hex_digit(path[i + 2]) : -1;
    if (lo < 0) throw HttpError(400, "bad percent-encoding in the request path");
    if (hi == 0 && lo == 0) throw HttpError(400, "the request path holds a NUL byte (%00)");
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

// A header value may hold visible characters, spaces, tabs and obs-text (bytes >= 0x80), nothing else.
bool valid_value(std::string_view value) {
  return std::all_of(value.begin(), value.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u == '\t' || (u >= 0x20 && u != 0x7f);
  });
}

HttpError body_too_large(size_t limit) {
  return HttpError(413, fmt::format("Request body is larger than the server's limit of {} bytes", limit));
}

}  // namespace

std::string_view HttpRequest::header(std::string_view name) const {
  for (const auto& [key, value] : headers)
    if (iequals(key, name)) return value;
  return {};
}

bool HttpRequest::keep_alive() const {
  const std::string_view connection = header("Connection");
  if (minor_version == 0) return lists(connection, "keep-alive");
  return !lists(connection, "close");
}

RequestParser::Stage RequestParser::feed(std::string_view data) {
  buffer_.append(data);
  if (stage_ == Stage::kHead) {
    // RFC 9112 §2.2: empty lines before a request line are ignored (some clients send CRLF after a body).
    if (scanned_ == 0) {
      const size_t first = buffer_.find_first_not_of("\r\n");
      buffer_.erase(0, first == std::string::npos ? buffer_.size() : first);
    }
    const size_t end = head_end();
    if (end == std::string::npos || end > limits_.max_head_bytes) {
      if (std::min(end, buffer_.size()) > limits_.max_head_bytes)
        throw HttpError(431, fmt::format("request line and headers exceed the server's limit of {} bytes",
                                         limits_.max_head_bytes));
      return stage_;
    }
    parse_head(std::string_view(buffer_).substr(0, end));
    buffer_.erase(0, end);
    parse_framing();
    stage_ = Stage::kBody;
  }
  if (stage_ == Stage::kBody) {
    const size_t n = std::min(body_length_ - request_.body.size(), buffer_.size());
    request_.body.append(buffer_, 0, n);
    buffer_.erase(0, n);
    if (request_.body.size() == body_length_) stage_ = Stage::kComplete;
  }
  return stage_;
}

size_t RequestParser::head_end() {
  // The head ends at an empty line: "\n\n" or "\n\r\n" (lines may end in a bare LF, RFC 9112 §2.2).
  for (size_t i = scanned_; i < buffer_.size(); ++i) {
    if (buffer_[i] != '\n') continue;
    if (i + 1 < buffer_.size() && buffer_[i + 1] == '\n') return i + 2;
    if (i + 2 < buffer_.size() && buffer_[i + 1] == '\r' && buffer_[i + 2] == '\n') return i + 3;
    if (i + 2 >= buffer_.size()) {
      scanned_ = i;  // the blank line may still come: search again from this LF
      return std::string::npos;
    }
  }
  scanned_ = buffer_.size();
  return std::string::npos;
}

void RequestParser::parse_head(std::string_view head) {
  bool first = true;
  while (!head.empty()) {
    const size_t lf = head.find('\n');
    std::string_view line = head.substr(0, lf);
    head.remove_prefix(lf + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;
    if (first) {
      parse_request_line(line);
      first = false;
      continue;
    }
    if (line.front() == ' ' || line.front() == '\t')
      throw HttpError(400, "obsolete line folding in a request header");
    const size_t colon = line.find(':');
    const std::string_view name = line.substr(0, colon);
    if (colon == std::string_view::npos || !is_token(name))
      throw HttpError(400, fmt::format("malformed request header line '{}'", line.substr(0, 80)));
    const std::string_view value = trim(line.substr(colon + 1));
    if (!valid_value(value))
      throw HttpError(400, fmt::format("request header {} holds a control character", name));
    if (request_.headers.size() == limits_.max_headers)
      throw HttpError(431, fmt::format("more than {} request headers", limits_.max_headers));
    request_.headers.emplace_back(name, value);
  }
}

void RequestParser::parse_request_line(std::string_view line) {
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
    throw HttpError(400, fmt::format("malformed request line '{}'", line.substr(0, 80)));
  const std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!is_token(method)) throw HttpError(400, "malformed request method");
  if (version == "HTTP/1.1") {
    request_.minor_version = 1;
  } else if (version == "HTTP/1.0") {
    request_.minor_version = 0;
  } else if (version.starts_with("HTTP/")) {
    throw HttpError(505, fmt::format("{} is not supported: use HTTP/1.1", version.substr(0, 16)));
  } else {
    throw HttpError(400, "malformed HTTP version in the request line");
  }
  // The absolute form (http://host/path, RFC 9112 §3.2.2) names the same resource as its path.
  if (target.starts_with("http://") || target.starts_with("https://")) {
    const size_t slash = target.find('/', target.find("//") + 2);
    target = slash == std::string_view::npos ? "/" : target.substr(slash);
  }
  if (!target.starts_with('/') || !valid_value(target))
    throw HttpError(400, fmt::format("malformed request target '{}'", target.substr(0, 80)));
  const size_t question = target.find('?');
  request_.method = method;
  request_.path = percent_decoded(target.substr(0, question));
  if (question != std::string_view::npos) request_.query = target.substr(question + 1);
}

void RequestParser::parse_framing() {
  if (!request_.header("Transfer-Encoding").empty())
    throw HttpError(501,
                    "Transfer-Encoding request bodies (chunked) are not supported: send the body "
                    "with Content-Length");
  bool seen = false;
  for (const auto& [name, value] : request_.headers) {
    if (!iequals(name, "Content-Length")) continue;
    size_t length = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
    if (ec == std::errc::result_out_of_range) throw body_too_large(limits_.max_body_bytes);
    if (ec != std::errc() || end != value.data() + value.size() || value.empty())
      throw HttpError(400, fmt::format("malformed Content-Length '{}'", value.substr(0, 40)));
    if (seen && length != body_length_) throw HttpError(400, "conflicting Content-Length headers");
    seen = true;
    body_length_ = length;
  }
  if (body_length_ > limits_.max_body_bytes) throw body_too_large(limits_.max_body_bytes);
  expects_continue_ = body_length_ > 0 && lists(request_.header("Expect"), "100-continue");
}

HttpRequest RequestParser::take() {
  HttpRequest out = std::move(request_);
  request_ = HttpRequest{};
  stage_ = Stage::kHead;
  scanned_ = 0;
  body_length_ = 0;
  expects_continue_ = false;
  return out;
}

}  // namespace baleen::server::http
