#include "trajectory/trajectory_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/crc32c.h"
#include "core/error.h"
#include "core/log.h"

namespace baleen::trajectory {

namespace {

constexpr char kFileMagic[8] = {'B', 'A', 'L', 'E', 'E', 'N', 'T', 'J'};
constexpr uint32_t kVersion = 1;
constexpr size_t kFileHeaderBytes = 16;
constexpr uint32_t kRecordMagic = 0x52544c42;  // "BLTR" little-endian
constexpr size_t kRecordHeaderBytes = 16;
constexpr uint32_t kMaxRecordBytes = uint32_t{1} << 30;

uint32_t load_u32(const char* p) {
  uint32_t value;
  std::memcpy(&value, p, 4);
  return value;
}

void store_u32(char* p, uint32_t value) {
  std::memcpy(p, &value, 4);
}

std::string file_header() {
  std::string header(kFileHeaderBytes, '\0');
  std::memcpy(header.data(), kFileMagic, 8);
  store_u32(header.data() + 8, kVersion);
  store_u32(header.data() + 12, crc32c(std::string_view(header.data(), 12)));
  return header;
}

// The length of the valid record at `offset`, or -1.
int64_t record_at(std::string_view data, size_t offset) {
  if (data.size() - offset < kRecordHeaderBytes) return -1;
  const char* p = data.data() + offset;
  if (load_u32(p) != kRecordMagic) return -1;
  uint32_t length = load_u32(p + 4);
  if (crc32c(std::string_view(p, 8)) != load_u32(p + 8) || length > kMaxRecordBytes) return -1;
  if (data.size() - offset - kRecordHeaderBytes < length) return -1;
  if (crc32c(std::string_view(p + kRecordHeaderBytes, length)) != load_u32(p + 12)) return -1;
  return length;
}

// Offset of the first valid record after `offset`, or npos.
size_t next_valid_record(std::string_view data, size_t offset) {
  for (size_t at = offset + 1; at + kRecordHeaderBytes <= data.size(); ++at) {
    at = data.find("BLTR", at);
    if (at == std::string_view::npos) return at;
    if (record_at(data, at) >= 0) return at;
  }
  return std::string_view::npos;
}

std::string read_file_bytes(int fd, const std::string& path) {
  struct stat st {};
  bool ok = ::fstat(fd, &st) == 0;
  check(ok, "cannot stat trajectory log '{}': {}", path, std::strerror(errno));
  std::string data(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::pread(fd, data.data() + done, data.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    check(n > 0, "cannot read trajectory log '{}': {}", path, n < 0 ? std::strerror(errno) : "short file");
    done += static_cast<size_t>(n);
  }
  return data;
}

}  // namespace

// A damaged region with no valid record after it is a torn tail.
LogContents TrajectoryLog::parse(std::string_view data, const std::string& path) {
  LogContents contents;
  std::string header = file_header();
  if (data.size() < kFileHeaderBytes) {
    // A crash while the header was being written: nothing was ever logged.
    check(std::string_view(header).starts_with(data), "'{}' is not a baleen trajectory log", path);
    contents.torn_bytes = static_cast<int64_t>(data.size());
    return contents;
  }
  check(data.substr(0, kFileHeaderBytes) == header,
        "'{}' is not a baleen trajectory log (version {} header expected)", path, kVersion);
  size_t offset = kFileHeaderBytes;
  while (offset < data.size()) {
    int64_t length = record_at(data, offset);
    if (length < 0) {
      size_t next = next_valid_record(data, offset);
      if (next != std::string_view::npos) {
        fail(
            "trajectory log '{}' is corrupt: the record at byte {} fails its checksum, yet a valid record "
            "follows at byte {} (not a torn tail; refusing to guess)",
            path, offset, next);
      }
      break;
    }
    contents.payloads.emplace_back(data.substr(offset + kRecordHeaderBytes, static_cast<size_t>(length)));
    offset += kRecordHeaderBytes + static_cast<size_t>(length);
  }
  contents.valid_bytes = static_cast<int64_t>(offset);
  contents.torn_bytes = static_cast<int64_t>(data.size() - offset);
  return contents;
}

namespace {

void write_all_at_end(int fd, std::string_view data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    check(n > 0, "cannot append to trajectory log '{}': {}", path, std::strerror(errno));
    done += static_cast<size_t>(n);
  }
}

void sync_directory_of(const std::string& path) {
  std::string dir = std::filesystem::absolute(path).parent_path().string();
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd) ::fsync(fd.get());
}

}  // namespace

TrajectoryLog::TrajectoryLog(std::string path, Fd fd, LogContents contents)
    : path_(std::move(path)), fd_(std::move(fd)), contents_(std::move(contents)) {}

LogContents TrajectoryLog::read(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  check(static_cast<bool>(fd), "cannot open trajectory log '{}': {}", path, std::strerror(errno));
  return parse(read_file_bytes(fd.get(), path), path);
}

TrajectoryLog TrajectoryLog::open(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  check(static_cast<bool>(fd), "cannot open trajectory log '{}': {}", path, std::strerror(errno));
  check(::flock(fd.get(), LOCK_EX | LOCK_NB) == 0, "trajectory log '{}' is in use by another process", path);
  std::string data = read_file_bytes(fd.get(), path);
  LogContents contents = parse(data, path);
  if (contents.torn_bytes > 0) {
    log::warn("trajectory log '{}': dropping a torn tail of {} bytes at byte {}", path, contents.torn_bytes,
              contents.valid_bytes);
    bool ok = ::ftruncate(fd.get(), contents.valid_bytes) == 0;
    check(ok, "cannot truncate trajectory log '{}': {}", path, std::strerror(errno));
  }
  if (contents.valid_bytes == 0) {
    write_all_at_end(fd.get(), file_header(), path);
    contents.valid_bytes = static_cast<int64_t>(kFileHeaderBytes);
  }
  bool synced = ::fdatasync(fd.get()) == 0;
  check(synced, "cannot sync trajectory log '{}': {}", path, std::strerror(errno));
  if (data.empty()) sync_directory_of(path);
  return TrajectoryLog(path, std::move(fd), std::move(contents));
}

void TrajectoryLog::append(std::string_view payload) {
  check(payload.size() <= kMaxRecordBytes, "trajectory record of {} bytes exceeds the {}-byte limit",
        payload.size(), kMaxRecordBytes);
  std::string record(kRecordHeaderBytes, '\0');
  store_u32(record.data(), kRecordMagic);
  store_u32(record.data() + 4, static_cast<uint32_t>(payload.size()));
  store_u32(record.data() + 8, crc32c(std::string_view(record.data(), 8)));
  store_u32(record.data() + 12, crc32c(payload));
  record.append(payload);
  try {
    write_all_at_end(fd_.get(), record, path_);
    bool synced = ::fdatasync(fd_.get()) == 0;
    check(synced, "cannot sync trajectory log '{}': {}", path_, std::strerror(errno));
  } catch (const Error&) {
    // A half-written record followed by later ones would read as corruption: cut it off now.
    (void)::ftruncate(fd_.get(), contents_.valid_bytes);
    throw;
  }
  contents_.payloads.emplace_back(payload);
  contents_.valid_bytes += static_cast<int64_t>(record.size());
}

}  // namespace baleen::trajectory
