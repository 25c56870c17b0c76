#include "sandbox/microvm_protocol.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "core/error.h"

namespace baleen::sandbox::microvm_protocol {

namespace {

// Reads exactly `size` bytes; false at end of file.
bool read_exact(int fd, void* data, size_t size) {
  auto* bytes = static_cast<char*>(data);
  while (size > 0) {
    ssize_t n = ::read(fd, bytes, size);
    if (n < 0 && errno == EINTR) continue;
    check(n >= 0, "microvm agent channel: read failed: {}", std::strerror(errno));
    if (n == 0) return false;
    bytes += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

void write_frame(int fd, const nlohmann::json& message) {
  std::vector<uint8_t> payload = nlohmann::json::to_msgpack(message);
  check(payload.size() <= kMaxFrameBytes,
        "microvm agent channel: a {}-byte message exceeds the {}-byte frame limit", payload.size(),
        kMaxFrameBytes);
  uint32_t header[2] = {kMagic, static_cast<uint32_t>(payload.size())};
  std::vector<uint8_t> frame(sizeof(header) + payload.size());
  std::memcpy(frame.data(), header, sizeof(header));
  std::memcpy(frame.data() + sizeof(header), payload.data(), payload.size());
  size_t done = 0;
  while (done < frame.size()) {
    ssize_t n = ::write(fd, frame.data() + done, frame.size() - done);
    if (n < 0 && errno == EINTR) continue;
    check(n > 0, "microvm agent channel: write failed: {}", std::strerror(errno));
    done += static_cast<size_t>(n);
  }
}

std::optional<nlohmann::json> read_frame(int fd) {
  uint32_t window = 0;
  for (;;) {
    // Slide byte by byte until the last four bytes read are the magic.
    uint8_t byte;
    if (!read_exact(fd, &byte, 1)) return std::nullopt;
    window = (window >> 8) | (uint32_t{byte} << 24);
    if (window != kMagic) continue;
    window = 0;
    uint32_t size;
    if (!read_exact(fd, &size, sizeof(size))) return std::nullopt;
    if (size > kMaxFrameBytes) continue;
    std::vector<uint8_t> payload(size);
    if (!read_exact(fd, payload.data(), size)) return std::nullopt;
    nlohmann::json message = nlohmann::json::from_msgpack(payload, true, false);
    if (message.is_object()) return message;
  }
}

}  // namespace baleen::sandbox::microvm_protocol
