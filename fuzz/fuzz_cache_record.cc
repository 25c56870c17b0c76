// libFuzzer target for the prefix cache's entry file reader (session/cache_record.h), what `--state-dir`
// reads at start and on every hit: any byte string must decode or throw baleen::Error, never crash, hang,
// read outside the buffer or allocate what the record merely claims. Inputs of odd length get the
// record's checksum fixed up first, so the fuzzer reaches the token ids and the embedded state file.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "../tests/engine/small_model.h"
#include "core/crc32c.h"
#include "core/error.h"
#include "session/cache_record.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const baleen::Config config = baleen::test::small_config();
  static const baleen::ModelIdentity model{"fuzz", 1};
  static const baleen::StateSpec spec = baleen::state_spec(config, baleen::StateStorage::kPaper);
  std::string bytes(reinterpret_cast<const char*>(data), size);
  if (size > 4 && size % 2 == 1) {
    const uint32_t crc = baleen::crc32c(std::string_view(bytes).substr(0, size - 4));
    std::memcpy(bytes.data() + size - 4, &crc, 4);
  }
  try {
    const baleen::session::CacheRecord record =
        baleen::session::decode_cache_record(bytes, spec, baleen::StateStorage::kPaper, model, "fuzz");
    volatile size_t sink = record.tokens.size();
    (void)sink;
  } catch (const baleen::Error&) {
  }
  return 0;
}
