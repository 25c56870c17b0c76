// The `microvm` substrate: each sandbox is a QEMU virtual machine (KVM when /dev/kvm is usable,
// else TCG emulation) booting Debian's kernel and an initramfs of the busybox image plus the guest
// agent (scripts/build_microvm.sh); requests travel over a virtio-serial port (microvm_protocol.h).
// Memory and CPUs are the VM's size, disk_bytes caps its root tmpfs, and without `network` it has
// no network device. The spec's image is the directory build_microvm.sh printed. A (copy-on-write)
// workspace is copied into the guest's /work at create; its changes stay in the guest.
#pragma once

#include "sandbox/sandbox.h"

namespace baleen::sandbox {

// The substrate's row of the table (sandbox.h).
const Substrate& microvm_substrate();

// The file that records a failed KVM boot of the image (a build_microvm.sh directory): while it exists,
// sandboxes of that image boot under TCG at once unless BALEEN_MICROVM_ACCEL says otherwise.
std::string microvm_kvm_failure_record(const std::string& image_dir);

}  // namespace baleen::sandbox
