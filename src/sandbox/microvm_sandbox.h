// The `microvm` substrate: each sandbox is a QEMU virtual machine (KVM when /dev/kvm is usable,
// else TCG emulation) booting Debian's kernel and an initramfs of the busybox image plus the guest
// agent (scripts/build_microvm.sh); requests travel over a virtio-serial port (microvm_protocol.h).
// Memory and CPUs are the VM's size, disk_bytes caps its root tmpfs, and without `network` it has
// no network device. The spec's image is the directory build_microvm.sh printed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "sandbox/confined_path.h"
#include "sandbox/sandbox.h"

namespace baleen::sandbox {

class MicrovmSandbox : public Sandbox {
 public:
  static std::unique_ptr<Sandbox> create(const SandboxSpec& spec);
  static std::unique_ptr<Sandbox> attach(const std::string& state_dir);
  // Whether qemu-system-x86_64 is on PATH, and if not, why.
  static bool available(std::string* reason);
  // Whether the sandbox's QEMU process still runs.
  static bool alive(const std::string& state_dir);

  ~MicrovmSandbox() override;
  const std::string& id() const override { return id_; }
  std::string_view substrate() const override { return "microvm"; }
  ExecResult exec(const ExecRequest& request) override;
  void write_file(const std::string& path, std::string_view data, int mode) override;
  std::string read_file(const std::string& path, int64_t max_bytes) override;
  std::string snapshot(const std::string& image_dir) override;
  void destroy() override;

 private:
  MicrovmSandbox() = default;
  // One request on a fresh connection to the guest agent; throws on an "error" reply, when the
  // VM exits, or when no reply comes within `patience`.
  nlohmann::json request(nlohmann::json message, std::chrono::milliseconds patience) const;
  std::string console_tail() const;

  std::string id_;
  std::string state_dir_;
  Limits limits_;
  pid_t qemu_pid_ = -1;
  bool own_child_ = false;  // QEMU is our child: reap it
  bool persist_ = false;
  bool destroyed_ = false;
};

}  // namespace baleen::sandbox
