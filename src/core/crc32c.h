// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of trajectory log records, layer copies and state files.
// crc32c() uses the SSE4.2 instruction; crc32c_reference() is the bitwise definition it is tested
// against. Both take and return the finalized value, so calls chain: crc32c(b, crc32c(a)).
#pragma once

#include <cstdint>
#include <string_view>

namespace baleen {

uint32_t crc32c(std::string_view data, uint32_t crc = 0);
uint32_t crc32c_reference(std::string_view data, uint32_t crc = 0);

}  // namespace baleen
