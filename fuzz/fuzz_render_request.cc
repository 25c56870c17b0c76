// Fuzzes the JSON request layer of `baleen render`: any bytes, parsed as a request and rendered, must either
// render or throw baleen::Error; anything else (crash, other exception, sanitizer report) is a bug.
#include <cstdint>
#include <string_view>

#include "chat/render_request.h"
#include "core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    baleen::chat::render_request_text(std::string_view(reinterpret_cast<const char*>(data), size));
  } catch (const baleen::Error&) {
  }
  return 0;
}
