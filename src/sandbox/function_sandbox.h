// The `function` substrate: built-in tools run in-process over one directory, every path confined to
// it by the kernel (confined_path.h). exec's argv names a tool:
//   read_file PATH | write_file PATH (content on stdin) | list_dir [PATH] | search TEXT [PATH]
// A tool error is exit code 1 with the reason on stderr; an unknown tool is exit code 127.
#pragma once

#include <memory>
#include <string>

#include "sandbox/confined_path.h"
#include "sandbox/sandbox.h"

namespace baleen::sandbox {

class FunctionSandbox : public Sandbox {
 public:
  static std::unique_ptr<Sandbox> create(const SandboxSpec& spec);
  static std::unique_ptr<Sandbox> attach(const std::string& state_dir);

  const std::string& id() const override { return id_; }
  std::string_view substrate() const override { return "function"; }
  ExecResult exec(const ExecRequest& request) override;
  void write_file(const std::string& path, std::string_view data, int mode) override;
  std::string read_file(const std::string& path, int64_t max_bytes) override;
  std::string snapshot(const std::string& image_dir) override;
  void destroy() override;

 private:
  FunctionSandbox(std::string id, std::string root, std::string state_dir, Limits limits);
  std::string run_tool(const ExecRequest& request);
  std::string list_dir(const std::string& path);
  std::string search(const std::string& text, const std::string& path, int64_t cap);

  std::string id_;
  std::string root_;
  std::string state_dir_;
  Limits limits_;
  Fd root_fd_;
};

}  // namespace baleen::sandbox
