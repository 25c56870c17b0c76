// `baleen agent`: the model ↔ tools loop on a task, in a sandbox, with a durable trajectory log that
// --resume replays (logged tool calls return their recorded results without running). SIGINT stops it
// cleanly between tokens or steps, the log intact.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <string>

#include "agent/sandbox/sandbox.h"
#include "agent/session/agent_loop.h"
#include "agent/session/loaded_model.h"
#include "app/chat_options.h"
#include "app/command.h"
#include "core/error.h"

namespace baleen::app {
namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) {
  g_interrupted.store(true);
}

struct Options {
  ChatOptions chat;
  std::string task, sandbox = "function", image, root = ".", log, resume;
  int64_t max_steps = 8;
};

std::unique_ptr<agent::Sandbox> make_sandbox(const Options& o, const std::filesystem::path& state_root) {
  agent::SandboxSpec spec;
  spec.state_root = state_root.string();
  if (o.sandbox == "function") {
    spec.image = std::filesystem::absolute(o.root).string();
  } else {
    check(!o.image.empty(), "--sandbox {} needs --image DIR (scripts/build_image.sh)", o.sandbox);
    spec.image = o.image;
  }
  return agent::create_sandbox(o.sandbox, spec);
}

void run(const Options& o) {
  check(o.log.empty() || o.resume.empty(), "pass --log or --resume, not both");
  const std::string log_path = !o.resume.empty() ? o.resume
                               : !o.log.empty()  ? o.log
                                                 : "baleen-agent.trajectory";
  check(o.resume.empty() || std::filesystem::exists(o.resume), "--resume {}: no such file", o.resume);
  agent::LoadedModel loaded(agent::resolve_model_dir(o.chat.model), o.chat.tokenizer_path());
  agent::ChatSession session(loaded.model(), loaded.tokenizer());
  const auto state_root = std::filesystem::temp_directory_path() / fmt::format("baleen-agent-{}", ::getpid());
  std::filesystem::create_directories(state_root);
  auto sandbox = make_sandbox(o, state_root);
  agent::TrajectoryLog log = agent::TrajectoryLog::open(log_path);
  agent::AgentOptions options;
  options.task = o.task;
  options.turn = o.chat.turn_options();
  options.max_steps = o.max_steps;
  options.stop = &g_interrupted;
  options.on_model_step = [](int64_t step, const chat::Message& m) {
    if (!m.reasoning_content.empty())
      std::fprintf(stderr, "[step %lld] <think>%s</think>\n", static_cast<long long>(step),
                   m.reasoning_content.c_str());
    for (const auto& call : m.tool_calls) {
      std::fprintf(stderr, "[step %lld] %s %s\n", static_cast<long long>(step), call.name.c_str(),
                   call.arguments.dump().c_str());
    }
  };
  options.on_tool_result = [](const chat::ToolCall&, const agent::ToolOutcome& r, bool replayed) {
    std::fprintf(stderr, "  -> %s%s\n", replayed ? "(replayed) " : "", r.content.substr(0, 400).c_str());
  };
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  ::sigaction(SIGINT, &sa, nullptr);
  const agent::AgentOutcome out = agent::run_agent(session, *sandbox, log, options);
  sandbox->destroy();
  std::filesystem::remove_all(state_root);
  if (out.end != agent::AgentEnd::kInterrupted) std::printf("%s\n", out.answer.c_str());
  // Executed counts every live run of a tool, the re-runs of calls a crash cut off after their tool_start.
  std::fprintf(stderr,
               "[%s after %lld steps; tool calls: %lld executed, %lld replayed, %lld re-run after an "
               "interruption; log %s]\n",
               std::string(agent::agent_end_name(out.end)).c_str(), static_cast<long long>(out.steps),
               static_cast<long long>(out.stats.tool_calls_executed),
               static_cast<long long>(out.stats.tool_calls_replayed),
               static_cast<long long>(out.stats.interrupted_calls_rerun), log_path.c_str());
  check(out.end != agent::AgentEnd::kInterrupted, "interrupted; resume with --resume {}", log_path);
}

}  // namespace

void add_agent_command(CLI::App& app) {
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("agent", "Model <-> tools loop on a task in a sandbox, logged for --resume");
  cmd->add_option("-p,--prompt", opts->task, "the task")->required();
  cmd->add_option("--sandbox", opts->sandbox, "substrate: function | process | container | microvm")->capture_default_str();
  cmd->add_option("--image", opts->image, "image directory (process, container, microvm)");
  cmd->add_option("--root", opts->root, "workspace directory (function substrate)")->capture_default_str();
  cmd->add_option("--log", opts->log, "trajectory log to write (default baleen-agent.trajectory)");
  cmd->add_option("--resume", opts->resume, "trajectory log to replay, then continue live");
  cmd->add_option("--max-steps", opts->max_steps, "most model steps")->capture_default_str();
  opts->chat.add_to(*cmd);
  cmd->callback([opts] { run(*opts); });
}

}  // namespace baleen::app
