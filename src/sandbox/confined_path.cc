#include "sandbox/confined_path.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace baleen::sandbox {

std::string relative_to_root(std::string_view path) {
  size_t start = path.find_first_not_of('/');
  if (start == std::string_view::npos) return ".";
  return std::string(path.substr(start));
}

namespace {

uint64_t resolve_flags(Confinement confinement) {
  uint64_t base = RESOLVE_NO_MAGICLINKS;
  return base | (confinement == Confinement::kBeneath ? RESOLVE_BENEATH : RESOLVE_IN_ROOT);
}

int raw_openat2(int root_fd, const std::string& path, int flags, int mode, Confinement confinement) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & (O_CREAT | O_TMPFILE)) ? static_cast<uint64_t>(mode) : 0;
  how.resolve = resolve_flags(confinement);
  long fd;
  do {
    fd = ::syscall(SYS_openat2, root_fd, path.c_str(), &how, sizeof(how));
  } while (fd < 0 && (errno == EAGAIN || errno == EINTR));
  return static_cast<int>(fd);
}

}  // namespace

Fd open_confined(int root_fd, std::string_view path, int flags, int mode, Confinement confinement) {
  std::string relative = relative_to_root(path);
  int fd = raw_openat2(root_fd, relative, flags, mode, confinement);
  if (fd < 0) {
    if (errno == EXDEV || errno == ELOOP) fail("path '{}' leaves the sandbox root", path);
    fail("cannot open '{}' in the sandbox: {}", path, std::strerror(errno));
  }
  return Fd(fd);
}

void make_dirs_confined(int root_fd, std::string_view dir, Confinement confinement,
                        std::optional<uint32_t> owner) {
  std::string relative = relative_to_root(dir);
  if (relative == ".") return;
  Fd current(::fcntl(root_fd, F_DUPFD_CLOEXEC, 0));
  check(static_cast<bool>(current), "cannot duplicate the sandbox root fd: {}", std::strerror(errno));
  size_t begin = 0;
  while (begin < relative.size()) {
    size_t end = relative.find('/', begin);
    if (end == std::string::npos) end = relative.size();
    std::string part = relative.substr(begin, end - begin);
    begin = end + 1;
    if (part.empty() || part == ".") continue;
    bool created = ::mkdirat(current.get(), part.c_str(), 0755) == 0;
    if (!created && errno != EEXIST)
      fail("cannot create directory '{}' in the sandbox: {}", dir, std::strerror(errno));
    // Each step opens beneath the previous one, so a symlinked component cannot lead outside.
    current = Fd(raw_openat2(current.get(), part, O_PATH | O_DIRECTORY, 0, confinement));
    if (!current) fail("path '{}' leaves the sandbox root or is not a directory", dir);
    if (created && owner && ::fchownat(current.get(), "", *owner, *owner, AT_EMPTY_PATH) != 0) {
      fail("cannot give directory '{}' to uid {}: {}", dir, *owner, std::strerror(errno));
    }
  }
}

std::string read_whole(int fd, int64_t max_bytes, std::string_view what) {
  std::string out;
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("cannot read '{}': {}", what, std::strerror(errno));
    if (n == 0) break;
    out.append(buffer, static_cast<size_t>(n));
    if (static_cast<int64_t>(out.size()) > max_bytes)
      fail("'{}' is larger than the limit of {} bytes", what, max_bytes);
  }
  return out;
}

void write_whole(int fd, std::string_view data, std::string_view what) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("cannot write '{}': {}", what, std::strerror(errno));
    done += static_cast<size_t>(n);
  }
}

}  // namespace baleen::sandbox
