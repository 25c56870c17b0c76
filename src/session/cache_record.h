// One prefix-cache entry on disk (session/disk_cache.h keeps a directory of them): the token ids a state
// holds and the state itself. Layout (little-endian):
//   "BALEENPC" | u32 version | u32 flags (bit 0: a conversation end) | u64 token count | i32 ids[count] |
//   u64 state bytes | the state file (engine/state_file.h: model identity, spec, its own CRC-32C) |
//   u32 CRC-32C of every byte before it.
// decode_cache_record trusts nothing: a wrong magic, version, checksum or size, another model, storage or
// layer format, or a state whose length is not the token count is an Error naming `what` and the fault,
// raised before anything the record merely claims is allocated.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/state_file.h"

namespace baleen::session {

inline constexpr uint32_t kCacheRecordVersion = 1;

struct CacheRecord {
  std::vector<int32_t> tokens;
  bool conversation_end = false;
  StateImage image;  // holds tokens.size() tokens
};

std::string encode_cache_record(const CacheRecord& record, const StateSpec& spec, StateStorage storage,
                                const ModelIdentity& model);
CacheRecord decode_cache_record(std::string_view bytes, const StateSpec& spec, StateStorage storage,
                                const ModelIdentity& model, const std::string& what);

}  // namespace baleen::session
