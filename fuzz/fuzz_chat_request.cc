// Fuzzes the request layer of `baleen serve`: any bytes as a POST /v1/chat/completions body must either
// parse (and then render) or throw baleen::Error (ApiError is one); anything else is a bug.
#include <cstdint>
#include <string_view>

#include "chat/encoder.h"
#include "core/error.h"
#include "server/chat_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const baleen::server::ChatRequest request = baleen::server::parse_chat_request(
        std::string_view(reinterpret_cast<const char*>(data), size), baleen::session::TurnOptions{});
    baleen::chat::render_prompt(request.conversation, request.turn.render);
  } catch (const baleen::Error&) {
  }
  return 0;
}
