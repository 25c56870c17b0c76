// A static program the escape tests copy into a sandbox: each action attempts one escape and prints
// "denied <errno name>" (exit 0) or "allowed" (exit 1). Static, so it runs on the busybox image.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

int report(bool allowed) {
  if (allowed) {
    std::printf("allowed\n");
    return 1;
  }
  std::printf("denied %s\n", strerrorname_np(errno));
  return 0;
}

int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
}

// Listens on the sandbox's own loopback and connects to itself.
int own_loopback() {
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof(address);
  if (::bind(listener, reinterpret_cast<sockaddr*>(&address), size) != 0 || ::listen(listener, 1) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
    return report(false);
  }
  return report(connect_to(ntohs(address.sin_port)) == 0);
}

int memory_bomb(long megabytes) {
  for (long i = 0; i < megabytes; ++i) {
    void* block = ::mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (block == MAP_FAILED) return report(false);
    std::memset(block, 0x5a, 1 << 20);
  }
  return report(true);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const char* action = argv[1];
  long arg = argc > 2 ? std::strtol(argv[2], nullptr, 10) : 0;
  if (!std::strcmp(action, "ptrace"))
    return report(::ptrace(PTRACE_ATTACH, static_cast<pid_t>(arg), 0, 0) == 0);
  if (!std::strcmp(action, "setuid")) {
    auto id = static_cast<uid_t>(arg);
    return report(::setresuid(id, id, id) == 0);
  }
  if (!std::strcmp(action, "kill")) return report(::kill(static_cast<pid_t>(arg), SIGKILL) == 0);
  if (!std::strcmp(action, "unshare-user")) return report(::unshare(CLONE_NEWUSER) == 0);
  if (!std::strcmp(action, "unshare-mount")) return report(::unshare(CLONE_NEWNS) == 0);
  if (!std::strcmp(action, "clone-user")) {
    long pid = ::syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) ::_exit(0);
    return report(pid > 0);
  }
  if (!std::strcmp(action, "setns")) {
    int fd = ::open("/proc/self/ns/uts", O_RDONLY);
    return report(fd >= 0 && ::syscall(SYS_setns, fd, 0) == 0);
  }
  if (!std::strcmp(action, "mount")) return report(::mount("none", "/tmp", "tmpfs", 0, nullptr) == 0);
  if (!std::strcmp(action, "bpf")) return report(::syscall(SYS_bpf, 0, nullptr, 0) >= 0 || errno != EPERM);
  if (!std::strcmp(action, "keyctl")) return report(::syscall(SYS_add_key, "user", "k", "v", 1, -2) >= 0);
  if (!std::strcmp(action, "connect")) return report(connect_to(static_cast<int>(arg)) == 0);
  if (!std::strcmp(action, "loopback")) return own_loopback();
  if (!std::strcmp(action, "memory")) return memory_bomb(arg);
  return 2;
}
