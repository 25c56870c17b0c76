// Issue 5's acceptance, end to end: the real `baleen agent` on baleen-nano, SIGKILLed at random points
// (after a random delay, or right after its trajectory log grows, i.e. between write and fdatasync or
// just after), then resumed until it completes. Every resume must re-execute no tool call whose result
// is in the log, continue exactly as an uninterrupted run with the same seed, and never find the log
// corrupt. Executions are counted from outside: the test watches read_file's target with inotify.
// BALEEN_AGENT_KILLS (default 50) and BALEEN_AGENT_KILL_SEED set the loop; failures print the seed.
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../core/temp_dir.h"
#include "tokenizer/tokenizer.h"
#include "trajectory/trajectory_log.h"
#include "trajectory/trajectory_record.h"

namespace baleen::agent {
namespace {

using trajectory::RecordType;
using trajectory::TrajectoryLog;
using trajectory::TrajectoryRecord;
using trajectory::canonical_arguments;
using trajectory::decode_record;
using trajectory::LogContents;
using trajectory::ToolCall;

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// A reference/nano read_then_calc task: read_file, then calculator, then the answer.
constexpr const char* kTask = "Read timeout from etc/server.conf and multiply it by 3.";
constexpr const char* kConfigFile = "etc/server.conf";

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

int64_t env_int(const char* name, int64_t fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::strtoll(value, nullptr, 10) : fallback;
}

// The log as the comparison sees it: model steps and tool results (timings left out). tool_start
// records are not part of it: an interrupted call logs one per attempt.
struct LoggedRun {
  std::vector<std::string> records;
  std::vector<std::string> violations;  // a tool_start after its call's result: a logged call re-run
  int64_t results = 0;                  // tool_result records
  int64_t file_reads_done = 0;          // read_file results for kConfigFile
};

std::string call_key(const TrajectoryRecord& r) {
  return fmt::format("step {} call {} {} {}", r.step, r.call, r.tool_call.name,
                     canonical_arguments(r.tool_call.arguments));
}

LoggedRun logged_run(const std::vector<std::string>& payloads) {
  LoggedRun run;
  std::vector<std::string> finished;
  for (const std::string& payload : payloads) {
    const TrajectoryRecord r = decode_record(payload);
    if (r.type == RecordType::kModel) {
      std::string calls;
      for (const ToolCall& c : r.model.tool_calls) calls += c.name + canonical_arguments(c.arguments) + ";";
      run.records.push_back(fmt::format("model step {} prompt {} {} output {:?} calls {}", r.model.step,
                                        r.model.prompt_tokens, r.model.prompt_hash, r.model.output, calls));
    } else if (r.type == RecordType::kToolStart) {
      if (std::find(finished.begin(), finished.end(), call_key(r)) != finished.end())
        run.violations.push_back("tool_start after the result of " + call_key(r));
    } else {
      finished.push_back(call_key(r));
      run.records.push_back(
          fmt::format("result of {}: {:?} error {}", call_key(r), r.result.content, r.result.is_error));
      ++run.results;
      if (r.tool_call.name == "read_file" && r.tool_call.arguments.value("path", "") == kConfigFile)
        ++run.file_reads_done;
    }
  }
  return run;
}

// Counts opens of one file by any process (inotify). IN_CLOSE_NOWRITE is watched too so that two opens
// are never adjacent identical events, which inotify would merge into one.
class OpenCounter {
 public:
  explicit OpenCounter(const fs::path& file) : fd_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
    if (fd_ >= 0) ::inotify_add_watch(fd_, file.c_str(), IN_OPEN | IN_CLOSE_NOWRITE);
  }
  ~OpenCounter() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  // Opens since the last call.
  int64_t take() {
    int64_t opens = 0;
    alignas(inotify_event) char buffer[4096];
    ssize_t n;
    while ((n = ::read(fd_, buffer, sizeof(buffer))) > 0) {
      for (ssize_t at = 0; at < n;) {
        const auto* event = reinterpret_cast<const inotify_event*>(buffer + at);
        if (event->mask & IN_OPEN) ++opens;
        at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      }
    }
    return opens;
  }

 private:
  int fd_;
};

struct Workspace {
  baleen::test::TempDir dir;
  fs::path root = fs::path(dir.path()) / "root", tmp = fs::path(dir.path()) / "tmp";
  Workspace() {
    fs::create_directories(root / "etc");
    fs::create_directories(tmp);
    std::ofstream(root / kConfigFile) << "port=8080\nhost=db.internal\ntimeout=45\nretries=3\nmode=staging\n";
    std::ofstream(root / "notes.txt") << "Water the plants\nUpdate the README\n";
  }
};

enum class KillAt { kNever, kDelay, kLogGrowth };

struct Kill {
  KillAt at = KillAt::kNever;
  std::chrono::microseconds delay{0};  // kDelay: after start; kLogGrowth: after the growth
  int growths = 1;                     // kLogGrowth: kill after this many appends were seen
};

struct RunResult {
  bool killed = false;
  int exit_code = -1;
  std::string out, err;
  double wall_ms = 0;
};

int64_t size_of(const fs::path& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

// Runs `baleen agent` on the task, logging to (or resuming) `log`, and kills it as `kill` says.
RunResult run_agent_binary(const Workspace& ws, const fs::path& log, const Kill& kill,
                           const std::string& sampling) {
  const bool resume = fs::exists(log);
  const std::string command =
      fmt::format("exec {} agent -p '{}' --sandbox function --root {} {} {} --max-steps 4 -n 96 {} >{} 2>{}",
                  BALEEN_BINARY, kTask, ws.root.string(), resume ? "--resume" : "--log", log.string(),
                  sampling, (ws.tmp / "out").string(), (ws.tmp / "err").string());
  const auto start = Clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv("TMPDIR", ws.tmp.c_str(), 1);  // the agent's sandbox state dir, left behind by a kill
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  RunResult result;
  int64_t size = size_of(log);
  int growths = 0;
  std::optional<Clock::time_point> kill_time;
  if (kill.at == KillAt::kDelay) kill_time = start + kill.delay;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (kill.at == KillAt::kLogGrowth && !kill_time) {
      const int64_t now_size = size_of(log);
      if (now_size > size && ++growths >= kill.growths) kill_time = Clock::now() + kill.delay;
      size = now_size;
    }
    if (kill_time && Clock::now() >= *kill_time) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      result.killed = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  result.wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  if (!result.killed) result.killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = read_text(ws.tmp / "out");
  result.err = read_text(ws.tmp / "err");
  return result;
}

// "tool calls: X executed, Y replayed" from the agent's last stderr line.
std::pair<int64_t, int64_t> reported_calls(const std::string& err) {
  long long executed = -1, replayed = -1;
  const size_t at = err.rfind("tool calls: ");
  if (at != std::string::npos)
    std::sscanf(err.c_str() + at, "tool calls: %lld executed, %lld replayed", &executed, &replayed);
  return {executed, replayed};
}

// A strict prefix of one record frame of `log_bytes`: what a crash in the middle of an append leaves.
std::string torn_frame(const std::string& log_bytes, const std::vector<std::string>& payloads,
                       std::mt19937_64& rng) {
  size_t offset = 16;  // the file header
  const size_t pick = rng() % payloads.size();
  for (size_t i = 0; i < pick; ++i) offset += 16 + payloads[i].size();
  const size_t frame = 16 + payloads[pick].size();
  return log_bytes.substr(offset, 1 + rng() % (frame - 1));
}

bool nano_available() {
  return fs::exists(tokenizer::default_tokenizer_path()) &&
         fs::exists(std::string(BALEEN_SOURCE_DIR) + "/models/baleen-nano/model-00001-of-00002.safetensors");
}

TEST(AgentKillLoop, EveryResumeReplaysLoggedCallsAndMatchesTheUninterruptedRun) {
  if (!nano_available()) GTEST_SKIP() << "no tokenizer or unpacked baleen-nano (scripts/setup.sh)";
  const int64_t total_kills = env_int("BALEEN_AGENT_KILLS", 50);
  const uint64_t seed = static_cast<uint64_t>(env_int("BALEEN_AGENT_KILL_SEED", std::random_device{}()));
  SCOPED_TRACE(fmt::format("BALEEN_AGENT_KILL_SEED={}", seed));
  std::mt19937_64 rng(seed);
  const std::string sampling = "--temperature 0.7 --seed 11";

  Workspace ws;
  OpenCounter reads(ws.root / kConfigFile);
  ASSERT_TRUE(reads.ok()) << "inotify_init1 failed";
  const fs::path reference_log = ws.tmp / "reference.trajectory";
  const RunResult reference = run_agent_binary(ws, reference_log, {}, sampling);
  ASSERT_EQ(reference.exit_code, 0) << reference.err;
  const std::vector<std::string> reference_payloads = TrajectoryLog::read(reference_log.string()).payloads;
  const LoggedRun expected = logged_run(reference_payloads);
  const int64_t opens_per_read = reads.take();
  ASSERT_EQ(expected.file_reads_done, 1) << "nano no longer reads " << kConfigFile << " for the task:\n"
                                         << reference.err;
  ASSERT_GE(opens_per_read, 1) << "inotify saw no open of " << kConfigFile;
  int64_t tool_steps = 0;
  for (const std::string& p : reference_payloads) {
    const TrajectoryRecord r = decode_record(p);
    tool_steps += r.type == RecordType::kModel && !r.model.tool_calls.empty();
  }
  ASSERT_GE(tool_steps, 2) << "nano no longer calls tools over two steps:\n" << reference.err;
  const std::string reference_bytes = read_text(reference_log);
  std::printf("reference: %zu records, %lld tool results, %.0f ms; answer %s", reference_payloads.size(),
              static_cast<long long>(expected.results), reference.wall_ms, reference.out.c_str());

  int64_t kills = 0, episodes = 0, runs = 0, torn = 0, reruns = 0;
  while (kills < total_kills) {
    const fs::path log = ws.tmp / fmt::format("episode-{}.trajectory", episodes++);
    const int64_t episode_kills = std::min<int64_t>(total_kills - kills, 1 + rng() % 6);
    for (int64_t attempt = 0;; ++attempt) {
      SCOPED_TRACE(fmt::format("episode {} run {}", episodes - 1, attempt));
      ++runs;
      Kill kill;
      if (attempt < episode_kills) {
        const bool growth = rng() % 2 == 0;
        kill.at = growth ? KillAt::kLogGrowth : KillAt::kDelay;
        kill.growths = 1 + static_cast<int>(rng() % 3);
        kill.delay = growth
                         ? std::chrono::microseconds(rng() % 3 == 0 ? 0 : rng() % 3000)
                         : std::chrono::microseconds(rng() % static_cast<uint64_t>(reference.wall_ms * 1000));
      }
      LoggedRun before;
      if (fs::exists(log)) {
        LogContents contents;
        ASSERT_NO_THROW(contents = TrajectoryLog::read(log.string()));
        before = logged_run(contents.payloads);
      }
      const RunResult run = run_agent_binary(ws, log, kill, sampling);
      const int64_t opens = reads.take();
      ASSERT_TRUE(run.killed || run.exit_code == 0) << "exit " << run.exit_code << ":\n" << run.err;
      EXPECT_EQ(run.err.find("corrupt"), std::string::npos) << run.err;

      LogContents after;
      if (fs::exists(log)) {
        ASSERT_NO_THROW(after = TrajectoryLog::read(log.string())) << "a kill left a corrupt log";
      }
      std::printf("episode %lld run %lld: %s after %.0f ms, %zu records logged\n",
                  static_cast<long long>(episodes - 1), static_cast<long long>(attempt),
                  !run.killed                 ? "completed"
                  : kill.at == KillAt::kDelay ? "killed (delay)"
                                              : "killed (log growth)",
                  run.wall_ms, after.payloads.size());
      const LoggedRun now = logged_run(after.payloads);
      EXPECT_TRUE(now.violations.empty()) << now.violations.front();
      ASSERT_LE(now.records.size(), expected.records.size());
      for (size_t i = 0; i < now.records.size(); ++i)
        ASSERT_EQ(now.records[i], expected.records[i])
            << "record " << i << " differs from the uninterrupted run";
      // The config file was opened only if its read had no logged result yet (an interrupted read may run
      // again).
      if (before.file_reads_done > 0) {
        EXPECT_EQ(opens, 0) << "read_file ran again although its result was logged";
      } else {
        EXPECT_LE(opens, opens_per_read) << "read_file ran more than once in one run";
      }
      reruns += opens > 0 && now.file_reads_done == 0;  // read, killed before its result was logged
      if (!run.killed) {
        EXPECT_EQ(run.out, reference.out) << "the resumed run's answer differs";
        EXPECT_EQ(now.records, expected.records);
        const auto [executed, replayed] = reported_calls(run.err);
        EXPECT_EQ(replayed, before.results) << run.err;
        EXPECT_EQ(executed, expected.results - before.results) << run.err;
        break;
      }
      ++kills;
      if (size_of(log) >= 16 && rng() % 4 == 0) {  // a torn write of the next record
        std::ofstream(log, std::ios::binary | std::ios::app)
            << torn_frame(reference_bytes, reference_payloads, rng);
        ++torn;
      }
      if (::testing::Test::HasFatalFailure()) return;
    }
    if (::testing::Test::HasFailure()) return;
  }
  std::printf(
      "%lld kills (%lld torn tails added) over %lld episodes, %lld runs; %lld interrupted reads re-run\n",
      static_cast<long long>(kills), static_cast<long long>(torn), static_cast<long long>(episodes),
      static_cast<long long>(runs), static_cast<long long>(reruns));
}

}  // namespace
}  // namespace baleen::agent
