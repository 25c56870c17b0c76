// Fuzzes the Completions request layer of `baleen serve`: any bytes as a POST /v1/completions body must
// either parse or throw baleen::Error (ApiError is one); anything else is a bug.
#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "server/completions_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    baleen::server::parse_completions_request(std::string_view(reinterpret_cast<const char*>(data), size),
                                              baleen::session::TurnOptions{}, /*vocab_size=*/129280);
  } catch (const baleen::Error&) {
  }
  return 0;
}
