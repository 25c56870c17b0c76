#include "session/cache_record.h"

#include <cstring>

#include "core/crc32c.h"
#include "core/error.h"

namespace baleen::session {
namespace {

constexpr char kMagic[8] = {'B', 'A', 'L', 'E', 'E', 'N', 'P', 'C'};
constexpr size_t kHeaderBytes = sizeof kMagic + 4 + 4 + 8;

template <typename T>
void put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

template <typename T>
T get(std::string_view bytes, size_t at) {
  T v;
  std::memcpy(&v, bytes.data() + at, sizeof v);
  return v;
}

}  // namespace

std::string encode_cache_record(const CacheRecord& record, const StateSpec& spec, StateStorage storage,
                                const ModelIdentity& model) {
  check(record.image.length == static_cast<int64_t>(record.tokens.size()),
        "cache record: a state of {} tokens kept as {}", record.image.length, record.tokens.size());
  const std::string state = encode_state_file(record.image, spec, storage, model);
  std::string out(kMagic, sizeof kMagic);
  put(out, kCacheRecordVersion);
  put(out, static_cast<uint32_t>(record.conversation_end));
  put(out, static_cast<uint64_t>(record.tokens.size()));
  out.append(reinterpret_cast<const char*>(record.tokens.data()), record.tokens.size() * sizeof(int32_t));
  put(out, static_cast<uint64_t>(state.size()));
  out += state;
  put(out, crc32c(out));
  return out;
}

CacheRecord decode_cache_record(std::string_view bytes, const StateSpec& spec, StateStorage storage,
                                const ModelIdentity& model, const std::string& what) {
  auto bad = [&](const std::string& why) { fail("cache record {}: {}", what, why); };
  if (bytes.size() < kHeaderBytes + 8 + 4) bad(fmt::format("truncated ({} bytes)", bytes.size()));
  if (bytes.substr(0, sizeof kMagic) != std::string_view(kMagic, sizeof kMagic))
    bad("not a baleen cache record");
  if (const auto v = get<uint32_t>(bytes, 8); v != kCacheRecordVersion)
    bad(fmt::format("version {}, this build reads version {}", v, kCacheRecordVersion));
  if (crc32c(bytes.substr(0, bytes.size() - 4)) != get<uint32_t>(bytes, bytes.size() - 4))
    bad("checksum mismatch (truncated or corrupted)");
  const auto flags = get<uint32_t>(bytes, 12);
  if (flags > 1) bad(fmt::format("unknown flags {:#x}", flags));
  const auto count = get<uint64_t>(bytes, 16);
  // Every size is checked against the bytes there are before anything is allocated.
  const size_t room = bytes.size() - kHeaderBytes - 8 - 4;
  if (count > room / sizeof(int32_t)) bad(fmt::format("{} token ids in {} bytes", count, room));
  const size_t ids_bytes = static_cast<size_t>(count) * sizeof(int32_t);
  const auto state_bytes = get<uint64_t>(bytes, kHeaderBytes + ids_bytes);
  if (state_bytes != room - ids_bytes)
    bad(fmt::format("a state of {} bytes where {} remain", state_bytes, room - ids_bytes));
  CacheRecord record;
  record.conversation_end = flags & 1;
  record.tokens.resize(static_cast<size_t>(count));
  if (count > 0) std::memcpy(record.tokens.data(), bytes.data() + kHeaderBytes, ids_bytes);
  record.image =
      decode_state_file(bytes.substr(kHeaderBytes + ids_bytes + 8, state_bytes), spec, storage, model, what);
  if (record.image.length != static_cast<int64_t>(count))
    bad(fmt::format("a state of {} tokens for {} token ids", record.image.length, count));
  return record;
}

}  // namespace baleen::session
