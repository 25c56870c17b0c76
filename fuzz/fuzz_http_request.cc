// Fuzzes the HTTP request parser of `baleen serve` (server/http/http_request.h): any bytes, fed whole and
// again in pieces of a size taken from the first byte, must give the same requests and end in the same
// state or the same HttpError — a client's packet boundaries never change what the server reads. Any other
// exception, or a difference, is a bug.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "server/http/http_request.h"

namespace {

using baleen::server::http::HttpError;
using baleen::server::http::HttpRequest;
using baleen::server::http::RequestParser;

// The requests read from `data` fed `step` bytes at a time, then how parsing ended, as one string.
std::string transcript(std::string_view data, size_t step) {
  RequestParser parser({.max_head_bytes = 512, .max_headers = 8, .max_body_bytes = 256});
  std::string out;
  try {
    for (size_t at = 0; at < data.size(); at += step) {
      RequestParser::Stage stage = parser.feed(data.substr(at, step));
      while (stage == RequestParser::Stage::kComplete) {
        const HttpRequest r = parser.take();
        out += r.method + ' ' + r.path + '?' + r.query + ' ' + std::to_string(r.minor_version) +
               (r.keep_alive() ? " keep\n" : " close\n");
        for (const auto& [name, value] : r.headers) out += name + ": " + value + '\n';
        out += r.body + '\n';
        stage = parser.feed({});
      }
    }
    out += "stage " + std::to_string(static_cast<int>(parser.stage())) +
           (parser.stage() == RequestParser::Stage::kHead && parser.started() ? " started" : "");
  } catch (const HttpError& e) {
    out += "error " + std::to_string(e.status()) + ' ' + e.what();
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t step = data[0] % 16 + 1;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (transcript(bytes, bytes.size() + 1) != transcript(bytes, step)) std::abort();
  return 0;
}
