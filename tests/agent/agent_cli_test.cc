// `baleen agent` without -p end to end through the built binary on baleen-nano: tasks piped on stdin run in
// one session and one log, --resume replays them without running a tool, SIGINT stops a task with the log
// intact and returns to the prompt (a second at the prompt ends the session), and a log resumed in the other
// mode fails with a hint.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "cli_outcome.h"
#include "trajectory/trajectory_log.h"
#include "trajectory/trajectory_record.h"

namespace baleen::agent {
namespace {

using trajectory::decode_record;
using trajectory::encode_record;
using trajectory::RecordType;
using trajectory::TrajectoryLog;
using trajectory::TrajectoryRecord;

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

// Ctrl-C during a task stops it and returns to the prompt with the log intact; the next task runs in the same
// session; Ctrl-C at the prompt ends it. A resume replays both tasks, the stop included, running nothing.
TEST(AgentCli, SigintStopsTheRunningTaskReturnsToThePromptAndASecondEndsTheSession) {
  if (!testing::nano_available()) GTEST_SKIP() << "no tokenizer or unpacked baleen-nano (scripts/setup.sh)";
  const Session s;
  const fs::path tasks = s.dir / "tasks";
  ASSERT_EQ(::mkfifo(tasks.c_str(), 0600), 0);
  const std::string command =
      fmt::format("exec {} <{} >{}", s.agent("--log"), tasks.string(), (s.dir / "out").string());
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  FILE* input = std::fopen(tasks.c_str(), "w");  // stdin stays open: the agent waits at its prompt
  ASSERT_NE(input, nullptr);
  auto wait_for = [&](const std::function<bool()>& done) {
    for (int i = 0; i < 12'000 && !done() && ::waitpid(pid, nullptr, WNOHANG) == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return done();
  };
  auto logged = [&](RecordType type) {
    if (!fs::exists(s.log)) return int64_t{0};
    const std::vector<std::string> payloads = TrajectoryLog::read(s.log.string()).payloads;
    return static_cast<int64_t>(std::count_if(payloads.begin(), payloads.end(), [&](const std::string& p) {
      return decode_record(p).type == type;
    }));
  };
  // The first task's first model step is being generated once its user turn is logged.
  std::fputs("Read timeout from etc/server.conf and multiply it by 3.\n", input);
  std::fflush(input);
  ASSERT_TRUE(wait_for([&] { return logged(RecordType::kUser) == 1; })) << read_text(s.err);
  ::kill(pid, SIGINT);
  ASSERT_TRUE(wait_for([&] { return read_text(s.err).find("[task stopped;") != std::string::npos; }))
      << read_text(s.err);
  EXPECT_EQ(logged(RecordType::kStop), 1);
  std::fputs("How many files are in docs/?\n", input);
  std::fflush(input);
  ASSERT_TRUE(wait_for([&] { return read_text(s.err).find("[answered after") != std::string::npos; }))
      << read_text(s.err);
  ::kill(pid, SIGINT);  // at the prompt
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  std::fclose(input);
  const std::string err = read_text(s.err);
  ASSERT_TRUE(WIFEXITED(status)) << err;
  EXPECT_EQ(WEXITSTATUS(status), 0) << err;
  EXPECT_NE(err.find("[session: 2 tasks;"), std::string::npos) << err;
  const std::string answers = read_text(s.dir / "out");
  EXPECT_EQ(std::count(answers.begin(), answers.end(), '\n'), 1)
      << "only the second task answers: " << answers;
  EXPECT_EQ(answers.find("135"), std::string::npos) << answers;
  const long long executed = tool_calls(err).first;
  ASSERT_GE(executed, 1) << err;

  const Outcome resumed = s.run(s.agent("--resume") + " </dev/null");
  const std::string resumed_err = read_text(s.err);
  ASSERT_EQ(resumed.status, 0) << resumed_err;
  EXPECT_NE(resumed_err.find("[task 1, from the log] How many files"), std::string::npos) << resumed_err;
  EXPECT_EQ(tool_calls(resumed_err), std::make_pair(0LL, executed)) << resumed_err;
  EXPECT_EQ(resumed.out, read_text(s.dir / "out")) << "the replayed answers differ";
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
