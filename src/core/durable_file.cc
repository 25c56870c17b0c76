#include "core/durable_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "core/error.h"
#include "core/fd.h"

namespace baleen {
namespace {

void write_all(int fd, std::string_view data, const std::string& what) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    check(n > 0, "{}: write failed: {}", what, std::strerror(errno));
    done += static_cast<size_t>(n);
  }
}

}  // namespace

void write_file_durably(const std::filesystem::path& file, std::string_view data) {
  const std::filesystem::path tmp = file.string() + std::string(kTemporarySuffix);
  {
    const Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    check(bool(fd), "{}: cannot create: {}", tmp.string(), std::strerror(errno));
    try {
      write_all(fd.get(), data, tmp.string());
      check(::fdatasync(fd.get()) == 0, "{}: fdatasync failed: {}", tmp.string(), std::strerror(errno));
    } catch (...) {
      ::unlink(tmp.c_str());
      throw;
    }
  }
  if (::rename(tmp.c_str(), file.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    fail("{}: rename failed: {}", file.string(), std::strerror(err));
  }
  const std::filesystem::path dir = file.has_parent_path() ? file.parent_path() : ".";
  const Fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd) ::fsync(dfd.get());  // the rename itself reaches the disk
}

std::string read_file(const std::filesystem::path& file) {
  const Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  check(bool(fd), "{}: cannot open: {}", file.string(), std::strerror(errno));
  std::string out;
  char buf[1 << 16];
  while (true) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    check(n >= 0, "{}: read failed: {}", file.string(), std::strerror(errno));
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace baleen
