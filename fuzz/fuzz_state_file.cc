// libFuzzer target for the session state file reader (engine/state_file.h): any byte string must decode or
// throw baleen::Error, never crash, hang, read outside the buffer or allocate what the file merely claims.
// Inputs of odd length get their checksum fixed up first, so the fuzzer reaches the body parser too.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "../tests/engine/small_model.h"
#include "core/crc32c.h"
#include "core/error.h"
#include "engine/state_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const baleen::Config config = baleen::test::small_config();
  static const baleen::ModelIdentity model{"fuzz", 1};
  for (baleen::StateStorage storage : {baleen::StateStorage::kFp32, baleen::StateStorage::kPaper}) {
    static const baleen::StateSpec specs[2] = {baleen::state_spec(config, baleen::StateStorage::kFp32),
                                               baleen::state_spec(config, baleen::StateStorage::kPaper)};
    std::string bytes(reinterpret_cast<const char*>(data), size);
    if (size > 4 && size % 2 == 1) {
      const uint32_t crc = baleen::crc32c(std::string_view(bytes).substr(0, size - 4));
      std::memcpy(bytes.data() + size - 4, &crc, 4);
    }
    try {
      const baleen::StateImage image =
          baleen::decode_state_file(bytes, specs[storage == baleen::StateStorage::kPaper], storage, model, "fuzz");
      volatile int64_t sink = image.length;
      (void)sink;
    } catch (const baleen::Error&) {
    }
  }
  return 0;
}
