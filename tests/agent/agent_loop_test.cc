#include "agent/agent_loop.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <vector>

#include "session/loaded_model.h"

namespace baleen::agent {
namespace {

using sandbox::Sandbox;
using sandbox::SandboxSpec;
using sandbox::create_sandbox;
using trajectory::RecordType;
using trajectory::TrajectoryLog;
using trajectory::TrajectoryRecord;
using trajectory::decode_record;

namespace fs = std::filesystem;

session::LoadedModel* nano() {
  static std::unique_ptr<session::LoadedModel> loaded = []() -> std::unique_ptr<session::LoadedModel> {
    const auto tok = tokenizer::default_tokenizer_path();
    if (!fs::exists(tok)) return nullptr;
    const std::string dir = std::string(BALEEN_SOURCE_DIR) + "/models/baleen-nano";
    // The shards are committed gzipped; scripts/setup.sh unpacks them.
    if (!std::filesystem::exists(dir + "/model-00001-of-00002.safetensors")) return nullptr;
    return std::make_unique<session::LoadedModel>(std::string(BALEEN_SOURCE_DIR) + "/models/baleen-nano", tok,
                                                  session::ModelOptions{.threads = 2});
  }();
  return loaded.get();
}

int next_workspace_id() {
  static int id = 0;
  return id++;
}

// A workspace of reference/nano list_count and read_then_calc tasks, and state/log paths, under a fresh temp
// directory.
struct Workspace {
  fs::path dir =
      fs::temp_directory_path() / fmt::format("baleen-agent-test-{}-{}", ::getpid(), next_workspace_id());
  fs::path root = dir / "root", state = dir / "state", log = dir / "trajectory";
  Workspace() {
    fs::remove_all(dir);
    fs::create_directories(root / "docs");
    fs::create_directories(state);
    for (const char* name : {"alpha.txt", "beta.txt", "gamma.txt"})
      std::ofstream(root / "docs" / name) << name << "\n";
    fs::create_directories(root / "etc");
    std::ofstream(root / "etc" / "server.conf") << "port=8080\nhost=db.internal\ntimeout=45\nretries=3\n";
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
  session::LoadedModel* n = nano();
  if (!n) GTEST_SKIP() << "no tokenizer or unpacked baleen-nano (scripts/setup.sh)";
  Workspace ws;
  session::TurnRunner session(n->model(), n->tokenizer());
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

  session::TurnRunner cold(n->model(), n->tokenizer());
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
  session::LoadedModel* n = nano();
  if (!n) GTEST_SKIP() << "no tokenizer or unpacked baleen-nano (scripts/setup.sh)";
  Workspace ws;
  session::TurnRunner session(n->model(), n->tokenizer());
  std::atomic<bool> stop{true};
  AgentOptions options = count_task();
  options.stop = &stop;
  auto sandbox = ws.sandbox();
  TrajectoryLog log = TrajectoryLog::open(ws.log.string());
  const AgentOutcome out = run_agent(session, *sandbox, log, options);
  EXPECT_EQ(out.end, AgentEnd::kInterrupted);
  EXPECT_TRUE(TrajectoryLog::read(ws.log.string()).payloads.empty());
}

// Interactive sessions: the reference/nano list_count task, then a read_then_calc task (two tool steps).
const std::vector<std::string> kTasks = {"How many files are in docs/?",
                                         "Read timeout from etc/server.conf and multiply it by 3."};

AgentOptions session_options() {
  AgentOptions options;
  options.turn.max_tokens = 160;  // a calculator call with its four arguments
  options.max_steps = 4;
  return options;
}

// Tasks as stdin would give them: one at a time, then end of input.
struct Lines {
  std::vector<std::string> lines;
  size_t read = 0;
  std::optional<std::string> operator()() {
    if (read == lines.size()) return std::nullopt;
    return lines[read++];
  }
};

// Runs every task next_task() gives, as `baleen agent` without -p does; stops at an interrupted task.
std::vector<AgentOutcome> run_session(const Workspace& ws, session::TurnRunner& session,
                                      const AgentOptions& options, Lines& input) {
  auto sandbox = ws.sandbox();
  TrajectoryLog log = TrajectoryLog::open(ws.log.string());
  AgentLoop loop(session, *sandbox, log, options);
  std::vector<AgentOutcome> outcomes;
  while (std::optional<std::string> task = loop.next_task(std::ref(input))) {
    outcomes.push_back(loop.run_task(*task));
    if (outcomes.back().end == AgentEnd::kInterrupted) break;
  }
  return outcomes;
}

// kTasks run uninterrupted, once per test binary: their outcomes and their log's bytes.
struct Uninterrupted {
  std::vector<AgentOutcome> outcomes;
  std::string log_bytes;
};

const Uninterrupted& uninterrupted(session::LoadedModel& n) {
  static const Uninterrupted run = [&] {
    Workspace ws;
    session::TurnRunner session(n.model(), n.tokenizer());
    Lines input{kTasks};
    Uninterrupted done{run_session(ws, session, session_options(), input), {}};
    std::ifstream in(ws.log, std::ios::binary);
    done.log_bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return done;
  }();
  return run;
}

std::vector<TrajectoryRecord> logged(const fs::path& log) {
  std::vector<TrajectoryRecord> records;
  for (const std::string& payload : TrajectoryLog::read(log.string()).payloads)
    records.push_back(decode_record(payload));
  return records;
}

int64_t count_of(const std::vector<TrajectoryRecord>& records, RecordType type) {
  return std::count_if(records.begin(), records.end(),
                       [&](const TrajectoryRecord& r) { return r.type == type; });
}

TEST(AgentLoop, TwoTasksShareOneConversationAndOneLogAndTheSecondReusesThePrefix) {
  session::LoadedModel* n = nano();
  if (!n) GTEST_SKIP() << "no tokenizer or unpacked baleen-nano (scripts/setup.sh)";
  const std::vector<AgentOutcome>& live = uninterrupted(*n).outcomes;
  ASSERT_EQ(live.size(), 2u);
  EXPECT_GE(live[0].stats.tool_calls_executed, 1);
  EXPECT_GE(live[1].stats.tool_calls_executed, 1);
  const auto users = std::count_if(live[1].conversation.messages.begin(), live[1].conversation.messages.end(),
                                   [](const chat::Message& m) { return m.role == chat::Role::kUser; });
  EXPECT_EQ(users, 2) << "one conversation holds both tasks";
  // The second task's first prompt extends the first task's conversation: the session state's prefix holds
  // more than the first task's first prompt.
  EXPECT_GT(live[1].reused_tokens, live[0].prompt_tokens) << live[1].prompt_tokens << " prompt tokens";
  Workspace ws;
  std::ofstream(ws.log, std::ios::binary) << uninterrupted(*n).log_bytes;
  const std::vector<TrajectoryRecord> records = logged(ws.log);
  ASSERT_FALSE(records.empty());
  EXPECT_EQ(records[0].type, RecordType::kUser);
  EXPECT_EQ(count_of(records, RecordType::kUser), 2);
  EXPECT_EQ(count_of(records, RecordType::kModel), live[0].steps + live[1].steps);
}

TEST(AgentLoop, ResumedSessionReplaysEveryTaskWithoutExecutingThenReadsNewOnes) {
  session::LoadedModel* n = nano();
  if (!n) GTEST_SKIP() << "no tokenizer or unpacked baleen-nano (scripts/setup.sh)";
  const std::vector<AgentOutcome>& live = uninterrupted(*n).outcomes;
  Workspace ws;
  std::ofstream(ws.log, std::ios::binary) << uninterrupted(*n).log_bytes;
  session::TurnRunner cold(n->model(), n->tokenizer());
  Lines input{{"How many files are in docs/?"}};
  const std::vector<AgentOutcome> resumed = run_session(ws, cold, session_options(), input);
  ASSERT_EQ(resumed.size(), 3u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(resumed[i].answer, live[i].answer) << "task " << i;
    EXPECT_EQ(resumed[i].stats.tool_calls_executed, 0) << "task " << i;
    EXPECT_EQ(resumed[i].stats.tool_calls_replayed, live[i].stats.tool_calls_executed) << "task " << i;
    EXPECT_EQ(resumed[i].stats.model_steps_generated, 0) << "task " << i;
  }
  EXPECT_EQ(input.read, 1u) << "stdin is read only once the logged tasks are done";
  EXPECT_EQ(resumed[2].stats.model_steps_replayed, 0);
  EXPECT_GE(resumed[2].stats.tool_calls_executed, 1);
  EXPECT_EQ(count_of(logged(ws.log), RecordType::kUser), 3);
}

TEST(AgentLoop, EndOfInputBeforeAnyTaskLogsNothing) {
  session::LoadedModel* n = nano();
  if (!n) GTEST_SKIP() << "no tokenizer or unpacked baleen-nano (scripts/setup.sh)";
  Workspace ws;
  session::TurnRunner session(n->model(), n->tokenizer());
  Lines input;
  EXPECT_TRUE(run_session(ws, session, session_options(), input).empty());
  EXPECT_TRUE(TrajectoryLog::read(ws.log.string()).payloads.empty());
}

TEST(AgentLoop, TaskInterruptedMidRunResumesLiveAsTheUninterruptedRunAfterReplayingTheEarlierTask) {
  session::LoadedModel* n = nano();
  if (!n) GTEST_SKIP() << "no tokenizer or unpacked baleen-nano (scripts/setup.sh)";
  const std::vector<AgentOutcome>& reference = uninterrupted(*n).outcomes;
  Workspace ws;
  std::vector<AgentOutcome> cut;
  {
    session::TurnRunner session(n->model(), n->tokenizer());
    std::atomic<bool> stop{false};
    AgentOptions options = session_options();
    options.stop = &stop;
    Lines input{kTasks};
    // SIGINT's effect, right after the second task's first tool result.
    options.on_tool_result = [&](const chat::ToolCall&, const ToolOutcome&, bool) { stop = input.read == 2; };
    cut = run_session(ws, session, options, input);
  }
  ASSERT_EQ(cut.size(), 2u);
  ASSERT_EQ(cut[1].end, AgentEnd::kInterrupted) << "nano no longer calls a tool for: " << kTasks[1];
  ASSERT_EQ(cut[1].stats.tool_calls_executed, 1);
  EXPECT_EQ(logged(ws.log).back().type, RecordType::kToolResult)
      << "the log ends with the result that came in";

  session::TurnRunner cold(n->model(), n->tokenizer());
  Lines input;
  const std::vector<AgentOutcome> resumed = run_session(ws, cold, session_options(), input);
  ASSERT_EQ(resumed.size(), 2u);
  EXPECT_EQ(resumed[0].answer, reference[0].answer);
  EXPECT_EQ(resumed[0].stats.tool_calls_executed, 0);
  EXPECT_EQ(resumed[1].stats.tool_calls_replayed, 1) << "the interrupted task's logged call is not run again";
  EXPECT_EQ(resumed[1].stats.tool_calls_executed, reference[1].stats.tool_calls_executed - 1);
  EXPECT_GE(resumed[1].stats.model_steps_generated, 1) << "the interrupted task continues live";
  EXPECT_EQ(resumed[1].end, reference[1].end);
  EXPECT_EQ(resumed[1].answer, reference[1].answer);
}

}  // namespace
}  // namespace baleen::agent
