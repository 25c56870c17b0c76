// libFuzzer target for the safetensors header parser: any byte string must parse or throw baleen::Error,
// never crash, hang or read outside the buffer.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/error.h"
#include "model/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const baleen::SafetensorsHeader header =
        baleen::parse_safetensors(std::span<const uint8_t>(data, size), "fuzz");
    // A header that passes must describe bytes inside the input: touch the first and last of each tensor.
    volatile uint8_t sink = 0;
    for (const auto& e : header.entries) {
      if (e.nbytes() == 0) continue;
      sink = sink ^ data[header.data_offset + e.begin] ^ data[header.data_offset + e.end - 1];
    }
  } catch (const baleen::Error&) {
  }
  return 0;
}
