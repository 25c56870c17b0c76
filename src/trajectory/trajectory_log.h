// An append-only, checksummed log file: the durable store of an agent's trajectory. append() returns
// only once the record is on disk (write + fdatasync). Opening repairs a torn tail (a last record
// cut short by a crash) by truncating it, and throws baleen::Error naming the offset when a record
// before the tail is corrupt. One writer at a time (an exclusive flock).
//   file:   "BALEENTJ" u32 version u32 crc32c(previous 12 bytes)
//   record: u32 magic "BLTR" | u32 length | u32 crc32c(magic, length) | u32 crc32c(payload) | payload
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/fd.h"

namespace baleen::trajectory {

struct LogContents {
  std::vector<std::string> payloads;
  int64_t valid_bytes = 0;  // where the last valid record ends
  int64_t torn_bytes = 0;   // bytes after it: a torn tail
};

class TrajectoryLog {
 public:
  // Opens (creating if missing) for appending; truncates a torn tail.
  static TrajectoryLog open(const std::string& path);
  // Reads without modifying or locking; a torn tail is reported, not removed.
  static LogContents read(const std::string& path);
  // The same check over bytes already in memory; `name` appears in error messages.
  static LogContents parse(std::string_view bytes, const std::string& name);

  const std::vector<std::string>& payloads() const { return contents_.payloads; }
  int64_t torn_bytes_dropped() const { return contents_.torn_bytes; }
  const std::string& path() const { return path_; }
  // Appends one record durably; the payload is opaque bytes (JSON for trajectory records).
  void append(std::string_view payload);

 private:
  TrajectoryLog(std::string path, Fd fd, LogContents contents);
  std::string path_;
  Fd fd_;
  LogContents contents_;
};

}  // namespace baleen::trajectory
