// `baleen agent`: the model ↔ tools loop in a sandbox, with a durable trajectory log that --resume replays
// (logged tool calls return their recorded results without running). With -p it runs that one task; without,
// it reads tasks from stdin, one per line, and runs them one after the other in one sandbox, one conversation
// and one log ("/exit", end of input or Ctrl-C at the prompt ends). SIGINT stops a running task cleanly
// between tokens or steps, the log intact: a one-shot run exits and --resume continues the task; an
// interactive session logs the task as stopped and returns to the prompt.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

#include "agent/agent_loop.h"
#include "app/chat_options.h"
#include "app/command.h"
#include "core/error.h"
#include "sandbox/sandbox.h"
#include "session/loaded_model.h"
#include "trajectory/trajectory_record.h"

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
  bool one_shot = false;  // -p given
  bool apply = false, root_read_write = false;
};

std::unique_ptr<sandbox::Sandbox> make_sandbox(const Options& o, const std::filesystem::path& state_root) {
  sandbox::SandboxSpec spec;
  spec.state_root = state_root.string();
  spec.workspace = sandbox::Workspace{
      std::filesystem::absolute(o.root).string(),
      o.root_read_write ? sandbox::WorkspaceMode::kReadWrite : sandbox::WorkspaceMode::kCopyOnWrite};
  check(o.sandbox == "function" || !o.image.empty(),
        "--sandbox {} needs --image DIR (scripts/build_image.sh)", o.sandbox);
  spec.image = o.image;
  return sandbox::create_sandbox(o.sandbox, spec);
}

// A copy-on-write workspace's changes on stderr, written to --root with --apply. A substrate that cannot
// list them (microvm) says so; with --apply that is an error.
void finish_workspace(sandbox::Sandbox& sandbox, const Options& o) {
  std::vector<sandbox::WorkspaceChange> changes;
  try {
    changes = sandbox.workspace_changes();
  } catch (const Error& e) {
    if (o.apply) throw;
    std::fprintf(stderr, "[workspace: %s]\n", e.what());
  }
  if (changes.empty()) return;
  for (const auto& change : changes)
    std::fprintf(stderr, "[workspace] %c %s\n", "AMD"[change.kind], change.path.c_str());
  if (o.apply) sandbox.apply_workspace();
  std::fprintf(stderr, "[workspace: %zu changes %s %s%s]\n", changes.size(),
               o.apply ? "applied to" : "not applied to", o.root.c_str(),
               o.apply ? "" : " (--apply writes them)");
}

agent::AgentOptions agent_options(const Options& o) {
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
  return options;
}

// "tool calls: X executed, ...": executed counts every live run of a tool, the re-runs of calls a crash cut
// off after their tool_start included.
std::string tool_call_counts(const trajectory::ReplayStats& stats) {
  return fmt::format("tool calls: {} executed, {} replayed, {} re-run after an interruption",
                     stats.tool_calls_executed, stats.tool_calls_replayed, stats.interrupted_calls_rerun);
}

// The answer on stdout, then one stderr line on how the task ended.
void print_outcome(const agent::AgentOutcome& out, const std::string& log_path) {
  if (out.end != agent::AgentEnd::kInterrupted) std::printf("%s\n", out.answer.c_str());
  std::fflush(stdout);
  const std::string reuse = out.prompt_tokens > 0 ? fmt::format("; prompt {} tokens, {} reused",
                                                                out.prompt_tokens, out.reused_tokens)
                                                  : "";
  std::fprintf(stderr, "[%s after %lld steps; %s%s; log %s]\n",
               std::string(agent::agent_end_name(out.end)).c_str(), static_cast<long long>(out.steps),
               tool_call_counts(out.stats).c_str(), reuse.c_str(), log_path.c_str());
}

// The next task on stdin: one non-empty line; nullopt at "/exit", end of input or SIGINT.
std::optional<std::string> read_task() {
  const bool tty = ::isatty(STDIN_FILENO) != 0;
  std::string line;
  while (true) {
    if (tty) std::fputs("> ", stderr);
    if (!std::getline(std::cin, line) || line == "/exit" || g_interrupted.load()) return std::nullopt;
    if (!line.empty()) return line;
  }
}

// Tasks the log holds first (replayed), then tasks from stdin. Ctrl-C stops the running task (logged as
// stopped, so a resume replays the stop) and returns to the prompt; Ctrl-C at the prompt ends the session.
void run_interactive(agent::AgentLoop& loop, const std::string& log_path) {
  int64_t tasks = 0;
  while (true) {
    const bool from_log = loop.replaying();
    const std::optional<std::string> task = loop.next_task(read_task);
    if (!task) break;
    if (from_log)
      std::fprintf(stderr, "[task %lld, from the log] %s\n", static_cast<long long>(tasks), task->c_str());
    const agent::AgentOutcome out = loop.run_task(*task);
    print_outcome(out, log_path);
    ++tasks;
    if (out.end == agent::AgentEnd::kInterrupted) {
      loop.stop_task();
      g_interrupted.store(false);
      if (!from_log) std::fprintf(stderr, "[task stopped; Ctrl-C at the prompt ends the session]\n");
    }
  }
  std::fprintf(stderr, "[session: %lld tasks; %s; log %s]\n", static_cast<long long>(tasks),
               tool_call_counts(loop.stats()).c_str(), log_path.c_str());
}

// An interactive session's log starts with a user turn, a one-shot run's does not: resuming one in the other
// mode would diverge at its first record.
void check_log_mode(const trajectory::TrajectoryLog& log, bool one_shot) {
  if (log.payloads().empty()) return;
  const bool interactive =
      trajectory::decode_record(log.payloads().front()).type == trajectory::RecordType::kUser;
  check(!one_shot || !interactive, "{} is the log of an interactive session: resume it without -p",
        log.path());
  check(one_shot || interactive, "{} is the log of a one-shot run: resume it with -p and its task",
        log.path());
}

void run(const Options& o) {
  check(o.log.empty() || o.resume.empty(), "pass --log or --resume, not both");
  const std::string log_path = !o.resume.empty() ? o.resume
                               : !o.log.empty()  ? o.log
                                                 : "baleen-agent.trajectory";
  check(o.resume.empty() || std::filesystem::exists(o.resume), "--resume {}: no such file", o.resume);
  trajectory::TrajectoryLog log = trajectory::TrajectoryLog::open(log_path);
  check_log_mode(log, o.one_shot);
  session::LoadedModel loaded(session::resolve_model_dir(o.chat.model), o.chat.tokenizer_path(),
                              o.chat.options());
  session::TurnRunner session(loaded.model(), loaded.tokenizer(), o.chat.storage());
  const auto state_root = std::filesystem::temp_directory_path() / fmt::format("baleen-agent-{}", ::getpid());
  std::filesystem::create_directories(state_root);
  auto sandbox = make_sandbox(o, state_root);
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  ::sigaction(SIGINT, &sa, nullptr);
  agent::AgentEnd end = agent::AgentEnd::kAnswered;
  if (o.one_shot) {
    const agent::AgentOutcome out = agent::run_agent(session, *sandbox, log, agent_options(o));
    print_outcome(out, log_path);
    end = out.end;
  } else {
    agent::AgentLoop loop(session, *sandbox, log, agent_options(o));
    run_interactive(loop, log_path);
  }
  if (end != agent::AgentEnd::kInterrupted) finish_workspace(*sandbox, o);
  sandbox->destroy();
  std::filesystem::remove_all(state_root);
  check(end != agent::AgentEnd::kInterrupted, "interrupted; resume with --resume {}", log_path);
}

}  // namespace

void add_agent_command(CLI::App& app) {
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("agent",
                                 "Model <-> tools loop in a sandbox, logged for --resume: one task (-p), or "
                                 "tasks from stdin, one per line, "
                                 "in one conversation (/exit or end of input ends)");
  auto* prompt = cmd->add_option("-p,--prompt", opts->task,
                                 "the task (one-shot); without it, tasks are read from stdin");
  cmd->add_option("--sandbox", opts->sandbox, "substrate: function | process | container | microvm")
      ->capture_default_str();
  cmd->add_option("--image", opts->image, "image directory (process, container, microvm)");
  cmd->add_option("--root", opts->root, "workspace directory, seen at /work (function: the tools' root)")
      ->capture_default_str();
  cmd->add_flag("--apply", opts->apply,
                "write the sandbox's changes to --root at the end (default: list them)");
  cmd->add_flag("--root-read-write", opts->root_read_write,
                "the sandbox writes --root directly instead of a copy-on-write layer over it");
  cmd->add_option("--log", opts->log, "trajectory log to write (default baleen-agent.trajectory)");
  cmd->add_option("--resume", opts->resume,
                  "trajectory log to replay, then continue live (without -p: every logged task, then stdin)");
  cmd->add_option("--max-steps", opts->max_steps, "most model steps per task")->capture_default_str();
  opts->chat.add_to(*cmd);
  cmd->callback([opts, prompt] {
    opts->one_shot = prompt->count() > 0;
    run(*opts);
  });
}

}  // namespace baleen::app
