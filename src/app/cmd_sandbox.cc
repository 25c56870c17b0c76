// `baleen sandbox create|exec|destroy|list`: sandboxes from the shell, with their state under --root.
// `exec` exits with the command's exit code (128+signal when a signal ended it, 124 on timeout).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "app/command.h"
#include "core/error.h"
#include "sandbox/sandbox.h"

namespace baleen::app {

namespace {

struct SandboxOptions {
  std::string root = "/tmp/baleen-sandboxes";
  std::string substrate = "process";
  std::string image, workspace;
  bool workspace_read_write = false;
  double memory_mb = 512, disk_mb = 256, cpus = 1, timeout_s = 60;
  int64_t pids = 256;
  bool network = false;
  bool no_user_namespace = false;
  std::string id;
  std::string shell, cwd;
  std::vector<std::string> argv, env;
  bool forward_stdin = false;
};

void write_out(FILE* stream, const std::string& data) {
  if (!data.empty()) std::fwrite(data.data(), 1, data.size(), stream);
  std::fflush(stream);
}

void create(const SandboxOptions& o) {
  sandbox::SandboxSpec spec;
  spec.image = o.image;
  spec.state_root = o.root;
  spec.persist = true;
  spec.limits.memory_bytes = static_cast<int64_t>(o.memory_mb * 1024 * 1024);
  spec.limits.disk_bytes = static_cast<int64_t>(o.disk_mb * 1024 * 1024);
  spec.limits.cpus = o.cpus;
  spec.limits.pids = o.pids;
  spec.limits.network = o.network;
  spec.limits.wall_timeout = std::chrono::milliseconds(static_cast<int64_t>(o.timeout_s * 1000));
  if (o.no_user_namespace) spec.user_namespace = std::nullopt;
  if (!o.workspace.empty()) {
    spec.workspace =
        sandbox::Workspace{o.workspace, o.workspace_read_write ? sandbox::WorkspaceMode::kReadWrite
                                                               : sandbox::WorkspaceMode::kCopyOnWrite};
  }
  auto sandbox = sandbox::create_sandbox(o.substrate, spec);
  std::printf("%s\n", sandbox->id().c_str());
}

[[noreturn]] void exec(const SandboxOptions& o) {
  auto sandbox = sandbox::attach_sandbox(o.root, o.id);
  sandbox::ExecRequest request;
  request.argv = o.argv;
  request.shell = o.shell;
  request.env = o.env;
  request.cwd = o.cwd;
  request.timeout = std::chrono::milliseconds(static_cast<int64_t>(o.timeout_s * 1000));
  check(!request.argv.empty() || !request.shell.empty(),
        "sandbox exec: give a command after -- or --sh LINE");
  if (o.forward_stdin) {
    request.stdin_data.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  sandbox::ExecResult result = sandbox->exec(request);
  write_out(stdout, result.stdout_data);
  write_out(stderr, result.stderr_data);
  if (result.stdout_truncated || result.stderr_truncated) std::fprintf(stderr, "baleen: output truncated\n");
  std::exit(result.timed_out ? 124 : result.signal != 0 ? 128 + result.signal : result.exit_code);
}

// One line a change: A (added), M (modified) or D (deleted), a tab, the path in the workspace.
void diff(const SandboxOptions& o) {
  for (const auto& change : sandbox::attach_sandbox(o.root, o.id)->workspace_changes()) {
    const char kind = "AMD"[change.kind];
    std::printf("%c\t%s\n", kind, change.path.c_str());
  }
}

void list(const SandboxOptions& o) {
  for (const auto& info : sandbox::list_sandboxes(o.root)) {
    std::printf("%s\t%s\t%s\t%s\n", info.id.c_str(), info.substrate.c_str(), info.alive ? "alive" : "dead",
                info.image.c_str());
  }
}

}  // namespace

void add_sandbox_command(CLI::App& app) {
  auto options = std::make_shared<SandboxOptions>();
  auto* cmd = app.add_subcommand("sandbox", "Create, use and destroy sandboxes (docs/SANDBOX.md)");
  cmd->require_subcommand(1);
  auto add_root = [&](CLI::App* sub) {
    sub->add_option("--root", options->root, "Directory holding sandbox state")->capture_default_str();
  };

  auto* create_cmd = cmd->add_subcommand("create", "Create a sandbox; prints its id");
  add_root(create_cmd);
  create_cmd->add_option("--substrate", options->substrate, "function | process | container | microvm")
      ->capture_default_str();
  create_cmd->add_option("--image", options->image,
                         "Image directory (scripts/build_image.sh; microvm: scripts/build_microvm.sh's)");
  create_cmd->add_option(
      "--workspace", options->workspace,
      "Host directory seen at /work (copy-on-write: see `diff`, `apply`); function: required");
  create_cmd->add_flag("--workspace-read-write", options->workspace_read_write,
                       "The sandbox writes the workspace directly instead of a layer over it");
  create_cmd->add_option("--memory-mb", options->memory_mb, "Memory limit")->capture_default_str();
  create_cmd->add_option("--disk-mb", options->disk_mb, "Writable layer quota")->capture_default_str();
  create_cmd->add_option("--cpus", options->cpus, "CPU bandwidth in cores")->capture_default_str();
  create_cmd->add_option("--pids", options->pids, "Process limit")->capture_default_str();
  create_cmd->add_option("--timeout", options->timeout_s, "Default exec timeout, seconds")
      ->capture_default_str();
  create_cmd->add_flag("--network", options->network, "Share the host's network (default: loopback only)");
  create_cmd->add_flag("--no-user-namespace", options->no_user_namespace,
                       "process: run as host uid 0 (no capabilities) instead of a mapped unprivileged uid");
  create_cmd->callback([options] { create(*options); });

  auto* exec_cmd =
      cmd->add_subcommand("exec", "Run a command in a sandbox: exec ID -- ARGV... | exec ID --sh LINE");
  add_root(exec_cmd);
  exec_cmd->add_option("id", options->id, "Sandbox id")->required();
  exec_cmd->add_option("--sh", options->shell, "Shell line run with /bin/sh -c");
  exec_cmd->add_option("--cwd", options->cwd,
                       "Working directory inside the sandbox (default: /work with a "
                       "workspace, else /)");
  exec_cmd->add_option("--env", options->env, "KEY=VALUE (repeatable)");
  exec_cmd->add_option("--timeout", options->timeout_s, "Timeout, seconds")->capture_default_str();
  exec_cmd->add_flag("--stdin", options->forward_stdin, "Pass this process's stdin to the command");
  exec_cmd->add_option("argv", options->argv, "Command and arguments");
  exec_cmd->callback([options] { exec(*options); });

  auto* destroy_cmd = cmd->add_subcommand("destroy", "Stop a sandbox and remove its state");
  add_root(destroy_cmd);
  destroy_cmd->add_option("id", options->id, "Sandbox id")->required();
  destroy_cmd->callback([options] { sandbox::attach_sandbox(options->root, options->id)->destroy(); });

  auto* diff_cmd =
      cmd->add_subcommand("diff", "List what the sandbox changed in its workspace: A|M|D, tab, path");
  add_root(diff_cmd);
  diff_cmd->add_option("id", options->id, "Sandbox id")->required();
  diff_cmd->callback([options] { diff(*options); });

  auto* apply_cmd =
      cmd->add_subcommand("apply", "Write the sandbox's workspace changes to the host directory");
  add_root(apply_cmd);
  apply_cmd->add_option("id", options->id, "Sandbox id")->required();
  apply_cmd->callback([options] { sandbox::attach_sandbox(options->root, options->id)->apply_workspace(); });

  auto* list_cmd = cmd->add_subcommand("list", "List sandboxes: id, substrate, alive|dead, image");
  add_root(list_cmd);
  list_cmd->callback([options] { list(*options); });
}

}  // namespace baleen::app
