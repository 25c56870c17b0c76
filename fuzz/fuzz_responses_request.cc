// Fuzzes the Responses request layer of `baleen serve`: any bytes as a POST /v1/responses body must either
// parse (and then render) or throw baleen::Error (ApiError is one); anything else is a bug. A
// previous_response_id names a fixed stored conversation, so that path is reached too.
#include <cstdint>
#include <string_view>

#include "chat/encoder.h"
#include "core/error.h"
#include "server/responses_request.h"
#include "session/turn_runner.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto previous = [](const std::string& id) -> std::optional<baleen::chat::Conversation> {
    if (id != "resp_1") return std::nullopt;
    baleen::chat::Conversation c;
    c.messages.push_back(baleen::session::text_message(baleen::chat::Role::kUser, "Count."));
    baleen::chat::Message call = baleen::session::text_message(baleen::chat::Role::kAssistant, "");
    call.tool_calls.push_back({"call_1", "run_command", {{"command", "wc -l a"}}});
    c.messages.push_back(call);
    return c;
  };
  try {
    baleen::server::ResponsesRequest request = baleen::server::parse_responses_request(
        std::string_view(reinterpret_cast<const char*>(data), size), baleen::session::TurnOptions{}, previous);
    if (request.turn.tools.is_array())
      baleen::chat::attach_request_tools(request.conversation, request.turn.tools, nullptr);
    baleen::chat::render_prompt(request.conversation, request.turn.render);
  } catch (const baleen::Error&) {
  }
  return 0;
}
