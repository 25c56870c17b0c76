// `baleen agent` without -p end to end through the built binary on baleen-nano: tasks piped on stdin run in
// one session and one log, --resume replays them without running a tool, SIGINT stops a task with the log
// intact, and a log resumed in the other mode fails with a hint.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "cli_outcome.h"
#include "trajectory/trajectory_log.h"
#include "trajectory/trajectory_record.h"

namespace baleen::agent {
namespace {

using trajectory::RecordType;
using trajectory::TrajectoryLog;
using trajectory::TrajectoryRecord;
using trajectory::decode_record;
using trajectory::encode_record;

namespace fs = std::filesystem;
using testing::Outcome;

// The reference/nano list_count and read_then_calc tasks, one per line.
constexpr const char* kTasks =
    "How many files are in docs/?\\nRead timeout from etc/server.conf and multiply it by 3.\\n";

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A workspace, the log path and the command line of `baleen agent` on them.
struct Session {
  fs::path dir = fs::temp_directory_path() / fmt::format("baleen-agent-cli-{}", ::getpid());
  fs::path root = dir / "root", log = dir / "trajectory", err = dir / "err";
  Session() {
    fs::remove_all(dir);
    fs::create_directories(root / "docs");
    fs::create_directories(root / "etc");
    for (const char* name : {"alpha.txt", "beta.txt", "gamma.txt"})
      std::ofstream(root / "docs" / name) << name;
    std::ofstream(root / "etc" / "server.conf") << "port=8080\ntimeout=45\nretries=3\n";
  }
  ~Session() { fs::remove_all(dir); }
  // `baleen agent` logging to (flag "--log") or resuming ("--resume") the log; stderr to `err`.
  std::string agent(const std::string& flag) const {
    return fmt::format("{} agent --sandbox function --root {} {} {} -n 160 --max-steps 4 2>{}", BALEEN_BINARY,
                       root.string(), flag, log.string(), err.string());
  }
  // Stdout only: stderr goes to `err`.
  Outcome run(const std::string& command) const { return testing::run_command_line("(" + command + ")"); }
};

// The numbers of "tool calls: X executed, Y replayed" in the last such stderr line.
std::pair<long long, long long> tool_calls(const std::string& err) {
  long long executed = -1, replayed = -1;
  const size_t at = err.rfind("tool calls: ");
  if (at != std::string::npos)
    std::sscanf(err.c_str() + at, "tool calls: %lld executed, %lld replayed", &executed, &replayed);
  return {executed, replayed};
}

int64_t user_turns(const fs::path& log) {
  int64_t users = 0;
  for (const std::string& payload : TrajectoryLog::read(log.string()).payloads)
    users += decode_record(payload).type == RecordType::kUser;
  return users;
}

TEST(AgentCli, PipedTasksShareOneSessionAndResumeReplaysThemWithoutRunningATool) {
  if (!testing::nano_available()) GTEST_SKIP() << "no tokenizer or unpacked baleen-nano (scripts/setup.sh)";
  const Session s;
  const Outcome live = s.run(fmt::format("printf '{}' | {}", kTasks, s.agent("--log")));
  const std::string live_err = read_text(s.err);
  ASSERT_EQ(live.status, 0) << live_err;
  EXPECT_EQ(user_turns(s.log), 2) << "both tasks in one log";
  EXPECT_NE(live_err.find("[session: 2 tasks;"), std::string::npos) << live_err;
  const auto [executed, replayed] = tool_calls(live_err);
  EXPECT_GE(executed, 2) << live_err;
  EXPECT_EQ(replayed, 0) << live_err;
  // The second task's summary: its first prompt extends the first task's conversation.
  long long prompt = 0, reused = 0;
  const size_t second = live_err.find("; prompt ", live_err.find("; prompt ") + 1);
  ASSERT_NE(second, std::string::npos) << live_err;
  ASSERT_EQ(std::sscanf(live_err.c_str() + second, "; prompt %lld tokens, %lld reused", &prompt, &reused), 2);
  EXPECT_GT(reused, prompt / 2) << live_err;

  const Outcome resumed = s.run(s.agent("--resume") + " </dev/null");
  const std::string resumed_err = read_text(s.err);
  ASSERT_EQ(resumed.status, 0) << resumed_err;
  EXPECT_EQ(resumed.out, live.out) << "the replayed answers differ";
  EXPECT_EQ(tool_calls(resumed_err), std::make_pair(0LL, executed)) << resumed_err;
  EXPECT_EQ(user_turns(s.log), 2) << "end of input logs no task";
}

TEST(AgentCli, SigintStopsTheRunningTaskAndResumeContinuesItAfterTheEarlierOne) {
  if (!testing::nano_available()) GTEST_SKIP() << "no tokenizer or unpacked baleen-nano (scripts/setup.sh)";
  const Session s;
  const fs::path tasks = s.dir / "tasks";
  std::ofstream(tasks)
      << "How many files are in docs/?\nRead timeout from etc/server.conf and multiply it by 3.\n";
  const std::string command =
      fmt::format("exec {} <{} >{}", s.agent("--log"), tasks.string(), (s.dir / "out").string());
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // SIGINT once the second task is logged: its first model step is then being generated.
  int status = 0;
  bool sent = false;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (!sent && fs::exists(s.log) && user_turns(s.log) == 2) sent = ::kill(pid, SIGINT) == 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const std::string err = read_text(s.err);
  ASSERT_TRUE(sent) << "the agent ended before the second task was logged:\n" << err;
  ASSERT_TRUE(WIFEXITED(status)) << err;
  EXPECT_EQ(WEXITSTATUS(status), 1) << err;
  EXPECT_NE(err.find("interrupted; resume with --resume " + s.log.string()), std::string::npos) << err;
  const std::vector<std::string> logged = TrajectoryLog::read(s.log.string()).payloads;
  const int64_t logged_calls = std::count_if(logged.begin(), logged.end(), [](const std::string& p) {
    return decode_record(p).type == RecordType::kToolResult;
  });
  ASSERT_GE(logged_calls, 1) << err;

  const Outcome resumed = s.run(s.agent("--resume") + " </dev/null");
  const std::string resumed_err = read_text(s.err);
  ASSERT_EQ(resumed.status, 0) << resumed_err;
  EXPECT_NE(resumed_err.find("[task 1, from the log] Read timeout"), std::string::npos) << resumed_err;
  EXPECT_NE(resumed_err.find("[session: 2 tasks;"), std::string::npos) << resumed_err;
  const auto [executed, replayed] = tool_calls(resumed_err);
  EXPECT_EQ(replayed, logged_calls) << resumed_err;
  EXPECT_GE(executed, 1) << "the interrupted task continues live:\n" << resumed_err;
}

TEST(AgentCli, ResumingALogInTheOtherModeFailsWithAHint) {
  const Session s;
  {
    TrajectoryLog log = TrajectoryLog::open(s.log.string());
    TrajectoryRecord user;
    user.type = RecordType::kUser;
    user.user = {0, "How many files are in docs/?"};
    log.append(encode_record(user));
  }
  const Outcome one_shot = s.run(s.agent("--resume") + " -p 'How many files are in docs/?'");
  EXPECT_EQ(one_shot.status, 1);
  EXPECT_NE(read_text(s.err).find("interactive session: resume it without -p"), std::string::npos)
      << read_text(s.err);

  fs::remove(s.log);
  {
    TrajectoryLog log = TrajectoryLog::open(s.log.string());
    log.append(encode_record(TrajectoryRecord{}));  // a model step: a one-shot run's first record
  }
  const Outcome interactive = s.run(s.agent("--resume") + " </dev/null");
  EXPECT_EQ(interactive.status, 1);
  EXPECT_NE(read_text(s.err).find("one-shot run: resume it with -p"), std::string::npos) << read_text(s.err);
}

}  // namespace
}  // namespace baleen::agent
