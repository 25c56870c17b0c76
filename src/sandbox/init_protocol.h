// The messages between a `process` sandbox's init (pid 1 inside it) and its clients, over the
// SOCK_SEQPACKET socket state_dir/control.sock: one request per message, file descriptors passed
// with SCM_RIGHTS. Fixed-size structs, so init parses them without allocating.
#pragma once

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace baleen::sandbox::init_protocol {

inline constexpr size_t kMaxPassedFds = 3;

// Receives one message of at most `size` bytes and the descriptors passed with it (close-on-exec),
// at most min(max_fds, kMaxPassedFds): the kernel closes any more and sets MSG_CTRUNC. Returns
// recvmsg's result (EINTR retried); *flags gets the message's flags. For the creator and init alike
// (no allocation).
inline ssize_t receive_message(int socket, void* data, size_t size, int* fds, size_t max_fds,
                               size_t* fd_count, int* flags) {
  max_fds = std::min(max_fds, kMaxPassedFds);
  iovec io{data, size};
  alignas(cmsghdr) char control[CMSG_SPACE(kMaxPassedFds * sizeof(int))] = {};
  msghdr message{};
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = CMSG_SPACE(max_fds * sizeof(int));
  ssize_t got;
  do {
    got = ::recvmsg(socket, &message, MSG_CMSG_CLOEXEC);
  } while (got < 0 && errno == EINTR);
  *fd_count = 0;
  cmsghdr* header = got >= 0 ? CMSG_FIRSTHDR(&message) : nullptr;
  if (header != nullptr && header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_RIGHTS) {
    *fd_count = std::min((header->cmsg_len - CMSG_LEN(0)) / sizeof(int), max_fds);
    std::memcpy(fds, CMSG_DATA(header), sizeof(int) * *fd_count);
  }
  if (flags != nullptr) *flags = message.msg_flags;
  return got;
}

enum Op : uint32_t {
  kPing = 1,      // reply: Reply with status 0
  kExec = 2,      // + ExecRequest header and blob, fds [stdin, stdout, stderr]; reply: ExecReply
  kRootDir = 3,   // reply: Reply + the sandbox's root directory fd
  kLayerDir = 4,  // reply: Reply + the writable layer's tmpfs: upper/ and, with a workspace, workspace-upper/
  kShutdown = 5,  // kills every process of the sandbox; init replies, then exits
};

struct Header {
  uint32_t op;
  uint32_t argc;  // kExec: strings in the blob: argv[argc], env[envc], cwd
  uint32_t envc;
  uint32_t blob_bytes;  // bytes after this header
  int64_t timeout_ms;
  int64_t rlimit_as;  // 0: none (set when no memory cgroup limits the sandbox)
};

struct Reply {
  int32_t status;  // 0 ok, else an errno
};

enum ExecStage : int32_t { kRan = 0, kChdir = 1, kExecve = 2, kSetup = 3 };

struct ExecReply {
  int32_t stage;        // kRan, or where the command failed before running
  int32_t error;        // errno of that failure
  int32_t wait_status;  // from wait4, when stage == kRan
  int32_t timed_out;
  int64_t wall_ns;
  int64_t user_us;
  int64_t system_us;
  int64_t max_rss_kb;
};

inline constexpr uint32_t kMaxMessageBytes = 128 * 1024;
inline constexpr uint32_t kMaxStrings = 4096;

}  // namespace baleen::sandbox::init_protocol
