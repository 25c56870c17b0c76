#include "sandbox/seccomp_filter.h"

#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"
#include "sandbox/confined_path.h"

namespace baleen::sandbox {

namespace {

// Calls no sandboxed command needs that reach state shared with the host.
constexpr const char* kDenied[] = {
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "bpf",
    "keyctl",
    "add_key",
    "request_key",
    "unshare",
    "setns",
    "perf_event_open",
    "swapon",
    "swapoff",
    "reboot",
    "open_by_handle_at",
    "name_to_handle_at",
    "lookup_dcookie",
    "userfaultfd",
    "acct",
    "quotactl",
    "quotactl_fd",
    "syslog",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "iopl",
    "ioperm",
    "vhangup",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "fanotify_init",
    "uselib",
    "nfsservctl",
};

// New namespaces through clone's flags; clone3 hides its flags in memory, so it reports ENOSYS and
// libc falls back to clone.
constexpr uint64_t kNamespaceFlags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |
                                     CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP | CLONE_NEWTIME;

struct Context {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  ~Context() { seccomp_release(ctx); }
};

void add_rule(scmp_filter_ctx ctx, uint32_t action, const char* name) {
  int number = seccomp_syscall_resolve_name(name);
  if (number == __NR_SCMP_ERROR) return;  // not a call on this architecture
  int rc = seccomp_rule_add(ctx, action, number, 0);
  check(rc == 0, "seccomp: cannot add a rule for {}: {}", name, std::strerror(-rc));
}

}  // namespace

std::vector<std::string> sandbox_eperm_syscalls() {
  return {std::begin(kDenied), std::end(kDenied)};
}

uint64_t sandbox_clone_namespace_flags() {
  return kNamespaceFlags;
}

std::vector<std::string> sandbox_denied_syscalls() {
  std::vector<std::string> names = sandbox_eperm_syscalls();
  names.push_back("clone (namespace flags)");
  names.push_back("clone3 (ENOSYS)");
  return names;
}

std::vector<sock_filter> sandbox_seccomp_program() {
  Context context;
  check(context.ctx != nullptr, "seccomp: seccomp_init failed");
  // Other ABIs (i386, x32) are killed: the filter only knows the native numbers.
  check(seccomp_attr_set(context.ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) == 0,
        "seccomp: cannot set the bad-arch action");
  for (const char* name : kDenied) add_rule(context.ctx, SCMP_ACT_ERRNO(EPERM), name);
  add_rule(context.ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3");
  // One rule per flag: any set namespace flag denies the clone.
  int rc = 0;
  for (uint64_t flag = 1; flag != 0; flag <<= 1) {
    if ((kNamespaceFlags & flag) == 0) continue;
    rc = seccomp_rule_add(context.ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                          SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag));
    check(rc == 0, "seccomp: cannot add the clone rule: {}", std::strerror(-rc));
  }
  Fd memory(::memfd_create("baleen-seccomp", MFD_CLOEXEC));
  check(static_cast<bool>(memory), "seccomp: memfd_create failed: {}", std::strerror(errno));
  rc = seccomp_export_bpf(context.ctx, memory.get());
  check(rc == 0, "seccomp: cannot export the filter: {}", std::strerror(-rc));
  off_t size = ::lseek(memory.get(), 0, SEEK_END);
  check(size > 0 && size % static_cast<off_t>(sizeof(sock_filter)) == 0,
        "seccomp: exported filter has size {}", static_cast<long>(size));
  std::vector<sock_filter> program(static_cast<size_t>(size) / sizeof(sock_filter));
  check(::pread(memory.get(), program.data(), static_cast<size_t>(size), 0) == size,
        "seccomp: cannot read the exported filter");
  return program;
}

}  // namespace baleen::sandbox
