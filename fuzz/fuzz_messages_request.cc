// Fuzzes the Anthropic request layer of `baleen serve`: any bytes as a POST /v1/messages (or count_tokens)
// body must either parse (and then render) or throw baleen::Error (ApiError is one); anything else is a bug.
#include <cstdint>
#include <string_view>

#include "chat/encoder.h"
#include "core/error.h"
#include "server/messages_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  for (const bool count_tokens : {false, true}) {
    try {
      baleen::server::MessagesRequest request =
          baleen::server::parse_messages_request(body, baleen::session::TurnOptions{}, count_tokens);
      if (request.turn.tools.is_array())
        baleen::chat::attach_request_tools(request.conversation, request.turn.tools, nullptr);
      baleen::chat::render_prompt(request.conversation, request.turn.render);
    } catch (const baleen::Error&) {
    }
  }
  return 0;
}
