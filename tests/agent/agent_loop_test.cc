#include "agent/session/agent_loop.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "agent/session/loaded_model.h"

namespace baleen::agent {
namespace {

namespace fs = std::filesystem;

LoadedModel* nano() {
  static std::unique_ptr<LoadedModel> loaded = []() -> std::unique_ptr<LoadedModel> {
    const auto tok = tokenizer::default_tokenizer_path();
    if (!fs::exists(tok)) return nullptr;
    const std::string dir = std::string(BALEEN_SOURCE_DIR) + "/models/baleen-nano";
    // The shards are committed gzipped; scripts/setup.sh unpacks them.
    if (!std::filesystem::exists(dir + "/model-00001-of-00002.safetensors")) return nullptr;
    return std::make_unique<LoadedModel>(std::string(BALEEN_SOURCE_DIR) + "/models/baleen-nano", tok, 2);
  }();
  return loaded.get();
}

// A workspace of a reference/nano list_count task, and state/log paths, under a fresh temp directory.
struct Workspace {
  fs::path dir = fs::temp_directory_path() / fmt::format("baleen-agent-test-{}", ::getpid());
  fs::path root = dir / "root", state = dir / "state", log = dir / "trajectory";
  Workspace() {
    fs::remove_all(dir);
    fs::create_directories(root / "docs");
    fs::create_directories(state);
    for (const char* name : {"alpha.txt", "beta.txt", "gamma.txt"})
      std::ofstream(root / "docs" / name) << name << "\n";
  }
  ~Workspace() { fs::remove_all(dir); }
  std::unique_ptr<Sandbox> sandbox() const {
    SandboxSpec spec;
    spec.image = root.string();
    spec.state_root = state.string();
    return create_sandbox("function", spec);
  }
};

AgentOptions count_task() {
  AgentOptions options;
  options.task = "How many files are in docs/?";
  options.turn.max_tokens = 80;
  options.max_steps = 3;
  return options;
}

TEST(AgentLoop, ToolRoundTripThenResumeExecutesNoLoggedCall) {
  LoadedModel* n = nano();
  if (!n) GTEST_SKIP() << "no tokenizer or unpacked baleen-nano (scripts/setup.sh)";
  Workspace ws;
  ChatSession session(n->model(), n->tokenizer());
  AgentOutcome live;
  {
    auto sandbox = ws.sandbox();
    TrajectoryLog log = TrajectoryLog::open(ws.log.string());
    live = run_agent(session, *sandbox, log, count_task());
  }
  ASSERT_GE(live.stats.tool_calls_executed, 1);
  ASSERT_GE(live.conversation.messages.size(), 5u);  // system, user, assistant call, tool, assistant
  const chat::Message& tool = live.conversation.messages[3];
  EXPECT_EQ(tool.role, chat::Role::kTool);
  EXPECT_EQ(tool.content.rfind("error", 0), std::string::npos) << tool.content;
  EXPECT_NE(tool.content.find("alpha.txt"), std::string::npos) << tool.content;

  ChatSession cold(n->model(), n->tokenizer());
  auto sandbox = ws.sandbox();
  TrajectoryLog log = TrajectoryLog::open(ws.log.string());
  const AgentOutcome resumed = run_agent(cold, *sandbox, log, count_task());
  EXPECT_EQ(resumed.stats.tool_calls_executed, 0);
  EXPECT_EQ(resumed.stats.tool_calls_replayed, live.stats.tool_calls_executed);
  EXPECT_EQ(resumed.stats.model_steps_generated, 0);
  EXPECT_EQ(resumed.answer, live.answer);
  EXPECT_EQ(resumed.end, live.end);
}

TEST(AgentLoop, StopFlagEndsBeforeAnyStepIsLogged) {
  LoadedModel* n = nano();
  if (!n) GTEST_SKIP() << "no tokenizer or unpacked baleen-nano (scripts/setup.sh)";
  Workspace ws;
  ChatSession session(n->model(), n->tokenizer());
  std::atomic<bool> stop{true};
  AgentOptions options = count_task();
  options.stop = &stop;
  auto sandbox = ws.sandbox();
  TrajectoryLog log = TrajectoryLog::open(ws.log.string());
  const AgentOutcome out = run_agent(session, *sandbox, log, options);
  EXPECT_EQ(out.end, AgentEnd::kInterrupted);
  EXPECT_TRUE(TrajectoryLog::read(ws.log.string()).payloads.empty());
}

}  // namespace
}  // namespace baleen::agent
