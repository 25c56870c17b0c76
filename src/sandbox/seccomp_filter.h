// The seccomp-bpf program every command in a `process` sandbox runs under: the native x86-64 ABI only,
// and EPERM for the calls that reach the kernel's privileged or shared state (mount, ptrace, kexec,
// modules, bpf, keyrings, namespaces, perf, swap, reboot, clock, io_uring, ...). Built with libseccomp
// once, then installed with prctl alone (no allocation), as a child after fork must.
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <string>
#include <vector>

namespace baleen::sandbox {

// The compiled filter; throws baleen::Error when libseccomp fails.
std::vector<sock_filter> sandbox_seccomp_program();

// Names of the denied system calls, for the documentation and the tests.
std::vector<std::string> sandbox_denied_syscalls();

// The same policy in parts, for runtimes that build their own filter (the OCI seccomp section of the
// `container` substrate): calls denied with EPERM, clone's namespace flags (any one set: EPERM), and
// clone3 (ENOSYS, so libc falls back to the inspectable clone).
std::vector<std::string> sandbox_eperm_syscalls();
uint64_t sandbox_clone_namespace_flags();

}  // namespace baleen::sandbox
