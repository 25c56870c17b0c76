#include "core/crc32c.h"

#include <nmmintrin.h>

#include <cstring>

namespace baleen {

uint32_t crc32c(std::string_view data, uint32_t crc) {
  uint64_t state = ~crc;
  const char* p = data.data();
  size_t n = data.size();
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    state = _mm_crc32_u64(state, word);
  }
  auto state32 = static_cast<uint32_t>(state);
  for (; n > 0; --n, ++p) state32 = _mm_crc32_u8(state32, static_cast<uint8_t>(*p));
  return ~state32;
}

uint32_t crc32c_reference(std::string_view data, uint32_t crc) {
  crc = ~crc;
  for (char c : data) {
    crc ^= static_cast<uint8_t>(c);
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

}  // namespace baleen
