#include "trajectory/replay.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>

#include "../core/temp_dir.h"
#include "core/crc32c.h"
#include "core/error.h"

namespace baleen::trajectory {
namespace {

using baleen::test::TempDir;

// A deterministic stand-in for the model ↔ tools loop: the model's output and tool calls depend on
// the seed, the step and everything in the conversation so far; "executing" a tool appends a line
// "step call run" to a side file, so the test can count executions.
struct FakeAgent {
  uint64_t seed = 1;
  int steps = 12;
  size_t max_output = 2000;
  std::string side_file;
  size_t huge_output = 0;  // when set, one step in four writes up to this many bytes (slow writes)

  ModelStep generate(int64_t step, const std::string& transcript) const {
    std::mt19937_64 rng(seed * 1000003 + static_cast<uint64_t>(step) * 7919 + crc32c(transcript));
    ModelStep m;
    bool huge = huge_output > 0 && rng() % 4 == 0;
    m.output.resize(1 + rng() % (huge ? huge_output : max_output));
    for (char& c : m.output) c = static_cast<char>('a' + rng() % 26);
    int calls = static_cast<int>(rng() % 4);
    for (int i = 0; i < calls; ++i) {
      m.tool_calls.push_back(
          {"run_command", {{"command", "echo " + std::to_string(rng() % 1000)}, {"n", i}}});
    }
    return m;
  }

  ToolResult execute(int64_t step, int64_t call, const ToolCall& tool_call, int run) const {
    std::string line = fmt::format("{} {} {}\n", step, call, run);
    int fd = ::open(side_file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    EXPECT_EQ(::write(fd, line.data(), line.size()), static_cast<ssize_t>(line.size()));
    ::close(fd);
    return {"ran " + canonical_arguments(tool_call.arguments), false, 0};
  }

  // Runs the loop; returns the conversation text.
  std::string run(TrajectorySession& session, int run_id) const {
    std::string transcript;
    for (int64_t step = 0; step < steps; ++step) {
      std::string hash = fmt::format("{:08x}", crc32c(transcript));
      ModelStep m = session.model_step(step, static_cast<int64_t>(transcript.size() / 4), hash,
                                       [&] { return generate(step, transcript); });
      transcript += m.output;
      for (size_t c = 0; c < m.tool_calls.size(); ++c) {
        auto call = static_cast<int64_t>(c);
        ToolResult r = session.tool_call(step, call, m.tool_calls[c],
                                         [&] { return execute(step, call, m.tool_calls[c], run_id); });
        transcript += r.content;
      }
    }
    return transcript;
  }
};

// The log's content without timings and tool_start records: what an uninterrupted run must equal.
std::vector<std::string> semantic_records(const std::string& path) {
  std::vector<std::string> out;
  for (const auto& payload : TrajectoryLog::read(path).payloads) {
    TrajectoryRecord record = decode_record(payload);
    if (record.type == RecordType::kToolStart) continue;
    record.model.model_ms = 0;
    record.result.tool_ms = 0;
    out.push_back(encode_record(record));
  }
  return out;
}

// Watches the log grow and sends SIGKILL while a record is only partly in the file (inside the
// child's write()). Returns false if the child exited first.
bool kill_mid_write(pid_t child, const std::string& path) {
  uint64_t known_end = 0;
  for (;;) {
    int status = 0;
    if (::waitpid(child, &status, WNOHANG) == child) {
      ::kill(child, SIGKILL);  // already gone; keeps the caller's waitpid simple
      return false;
    }
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat st {};
    ::fstat(fd, &st);
    auto size = static_cast<uint64_t>(st.st_size);
    if (known_end == 0 && size >= 16) known_end = 16;
    while (known_end > 0 && size > known_end) {
      char header[16];
      if (size - known_end < 16 || ::pread(fd, header, 16, static_cast<off_t>(known_end)) != 16) break;
      uint32_t length = 0;
      std::memcpy(&length, header + 4, 4);
      if (size < known_end + 16 + length) break;
      known_end += 16 + length;
    }
    ::close(fd);
    if (known_end > 0 && size > known_end) {
      ::kill(child, SIGKILL);
      return true;
    }
  }
}

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(TrajectoryReplay, ReplayServesLoggedResultsWithoutExecutingThenContinuesLive) {
  TempDir dir;
  FakeAgent agent{7, 10, 300, dir.path() + "/side"};
  std::string first;
  {
    TrajectoryLog log = TrajectoryLog::open(dir.path() + "/log");
    TrajectorySession session(log);
    first = agent.run(session, 0);
    EXPECT_TRUE(session.live());
    EXPECT_EQ(session.stats().model_steps_generated, 10);
  }
  size_t executed = lines_of(agent.side_file).size();
  ASSERT_GT(executed, 3u) << "the seed should make several tool calls";
  {
    TrajectoryLog log = TrajectoryLog::open(dir.path() + "/log");
    TrajectorySession session(log, ModelReplay::kVerify);
    EXPECT_EQ(agent.run(session, 1), first);
    EXPECT_EQ(session.stats().tool_calls_executed, 0);
    EXPECT_EQ(session.stats().tool_calls_replayed, static_cast<int64_t>(executed));
  }
  EXPECT_EQ(lines_of(agent.side_file).size(), executed) << "replay must execute no tool";
  FakeAgent longer = agent;
  longer.steps = 14;
  TrajectoryLog log = TrajectoryLog::open(dir.path() + "/log");
  TrajectorySession session(log);
  longer.run(session, 2);
  EXPECT_EQ(session.stats().model_steps_replayed, 10);
  EXPECT_EQ(session.stats().model_steps_generated, 4) << "steps past the log run live";
}

TEST(TrajectoryReplay, MismatchesAreReportedAsDivergence) {
  TempDir dir;
  FakeAgent agent{11, 6, 100, dir.path() + "/side"};
  while (agent.generate(0, "").tool_calls.empty()) ++agent.seed;  // step 0 must call a tool
  {
    TrajectoryLog log = TrajectoryLog::open(dir.path() + "/log");
    TrajectorySession session(log);
    agent.run(session, 0);
  }
  FakeAgent other_seed = agent;
  other_seed.seed = agent.seed + 1000;
  TrajectoryLog log = TrajectoryLog::open(dir.path() + "/log");
  {
    TrajectorySession session(log, ModelReplay::kVerify);
    EXPECT_THROW(other_seed.run(session, 1), ReplayDivergence) << "a different model output must be caught";
  }
  {
    TrajectorySession session(log);
    ModelStep m = session.model_step(0, 0, fmt::format("{:08x}", crc32c("")), [] { return ModelStep{}; });
    ToolCall changed = m.tool_calls[0];
    changed.arguments["command"] = "rm -rf /";
    try {
      session.tool_call(0, 0, changed, [] { return ToolResult{"must not run", true, 0}; });
      FAIL() << "changed arguments were served from the log";
    } catch (const ReplayDivergence& e) {
      EXPECT_NE(std::string(e.what()).find("rm -rf"), std::string::npos) << e.what();
      EXPECT_EQ(e.record_index(), 1);
    }
  }
  {
    TrajectorySession session(log);
    EXPECT_THROW(session.model_step(0, 99, "different prompt", [] { return ModelStep{}; }), ReplayDivergence);
  }
}

ModelStep answer_step(const std::string& output) {
  ModelStep m;
  m.output = output;
  return m;
}

TEST(TrajectoryReplay, UserTurnsComeFromTheLogThenFromTheReaderAndAreLoggedFirst) {
  TempDir dir;
  const std::string path = dir.path() + "/log";
  int reads = 0;
  auto line = [&reads](std::optional<std::string> text) {
    return [&reads, text] {
      ++reads;
      return text;
    };
  };
  {
    TrajectoryLog log = TrajectoryLog::open(path);
    TrajectorySession session(log);
    EXPECT_EQ(session.user_turn(0, line("first task")), "first task");
    EXPECT_EQ(log.payloads().size(), 1u) << "the task must be logged before it is returned";
    session.model_step(0, 10, "h0", [] { return answer_step("first answer"); });
    EXPECT_EQ(session.user_turn(1, line(std::nullopt)), std::nullopt);
    EXPECT_EQ(log.payloads().size(), 2u) << "end of input logs nothing";
  }
  reads = 0;
  TrajectoryLog log = TrajectoryLog::open(path);
  TrajectorySession session(log);
  EXPECT_EQ(session.user_turn(0, line("not read")), "first task");
  EXPECT_EQ(reads, 0) << "a logged task must not be read again";
  EXPECT_EQ(session.model_step(0, 10, "h0", [] { return answer_step("regenerated"); }).output,
            "first answer");
  EXPECT_TRUE(session.live());
  EXPECT_EQ(session.user_turn(1, line("second task")), "second task");
  EXPECT_EQ(reads, 1);
  const TrajectoryRecord logged = decode_record(log.payloads().back());
  EXPECT_EQ(logged.type, RecordType::kUser);
  EXPECT_EQ(logged.user.turn, 1);
  EXPECT_EQ(logged.user.content, "second task");
  EXPECT_EQ(encode_record(decode_record(log.payloads().back())), log.payloads().back());
}

// A task the user stopped: its stop is logged before the next task; a replay sees it where the run asks
// for that model step, and asking for a stop the log does not have diverges.
TEST(TrajectoryReplay, AStoppedTaskReplaysItsStopThenTheNextTask) {
  TempDir dir;
  const std::string path = dir.path() + "/log";
  auto text = [](const char* t) { return [t] { return std::optional<std::string>(t); }; };
  {
    TrajectoryLog log = TrajectoryLog::open(path);
    TrajectorySession session(log);
    session.user_turn(0, text("stopped task"));
    EXPECT_FALSE(session.stop_logged(0)) << "nothing to replay while live";
    session.stop(0);
    session.user_turn(1, text("next task"));
    session.model_step(0, 12, "h1", [] { return answer_step("answer"); });
  }
  TrajectoryLog log = TrajectoryLog::open(path);
  ASSERT_EQ(log.payloads().size(), 4u);
  EXPECT_EQ(decode_record(log.payloads()[1]).type, RecordType::kStop);
  EXPECT_EQ(encode_record(decode_record(log.payloads()[1])), log.payloads()[1]);
  {
    TrajectorySession session(log);
    EXPECT_EQ(session.user_turn(0, text("not read")), "stopped task");
    EXPECT_FALSE(session.stop_logged(1)) << "a stop names its step";
    EXPECT_TRUE(session.stop_logged(0));
    session.stop(0);
    EXPECT_EQ(session.user_turn(1, text("not read")), "next task");
    EXPECT_EQ(session.model_step(0, 12, "h1", [] { return answer_step("regenerated"); }).output, "answer");
    EXPECT_TRUE(session.live());
  }
  TrajectorySession session(log);
  session.user_turn(0, text("not read"));
  session.stop(0);
  EXPECT_THROW(session.stop(0), ReplayDivergence) << "the log has the next task, not another stop";
}

TEST(TrajectoryReplay, UserTurnWhereTheLogHasAnotherRecordDiverges) {
  TempDir dir;
  const std::string path = dir.path() + "/log";
  {
    TrajectoryLog log = TrajectoryLog::open(path);
    TrajectorySession session(log);
    session.model_step(0, 10, "h0", [] { return answer_step("a one-shot log: no user turn"); });
  }
  TrajectoryLog log = TrajectoryLog::open(path);
  {
    TrajectorySession session(log);
    bool read = false;
    try {
      session.user_turn(0, [&read] {
        read = true;
        return std::optional<std::string>("task");
      });
      FAIL() << "a one-shot log served a user turn";
    } catch (const ReplayDivergence& e) {
      EXPECT_NE(std::string(e.what()).find("asked for user turn 0, the log has model step 0"),
                std::string::npos)
          << e.what();
    }
    EXPECT_FALSE(read);
  }
  TrajectoryRecord user;
  user.type = RecordType::kUser;
  user.user = {0, "task"};
  log.append(encode_record(user));
  TrajectorySession session(log);  // model step 0, user turn 0
  session.model_step(0, 10, "h0", [] { return ModelStep{}; });
  EXPECT_THROW(session.model_step(1, 20, "h1", [] { return ModelStep{}; }), ReplayDivergence)
      << "a model step where the log has a user turn";
}

// Kills a process running the agent with SIGKILL at random points, ≥ 50 times, resuming from the log
// each time: no resume re-executes a tool call whose result was logged, no open sees a corrupt log,
// and the finished log equals an uninterrupted run's.
// Counters must be integers: a float one (fuzz_trajectory_log found 1.2e49 as prompt_tokens) would convert
// to int64 with undefined behaviour; it is refused as an invalid record, naming the field.
TEST(TrajectoryReplay, RecordsWithNonIntegerCountersAreRefusedByField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"type":"model","step":0,"prompt_tokens":1.2e49,"prompt_hash":"h","output":"","tool_calls":[]})",
       "prompt_tokens"},
      {R"({"type":"model","step":0.5,"prompt_tokens":3,"prompt_hash":"h","output":"","tool_calls":[]})",
       "step"},
      {R"({"type":"user","turn":"1","content":"x"})", "turn"},
      {R"({"type":"tool_start","step":0,"call":-1e300,"tool_call":{"name":"f","arguments":{}}})", "call"}};
  for (const auto& [payload, field] : cases) {
    try {
      decode_record(payload);
      ADD_FAILURE() << "accepted: " << payload;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("'" + field + "'"), std::string::npos) << e.what();
    }
  }
  // Integers still decode.
  EXPECT_EQ(decode_record(R"({"type":"user","turn":2,"content":"x"})").user.turn, 2);
}

TEST(TrajectoryReplay, KillNineLoopNeverRerunsLoggedCallsAndMatchesAnUninterruptedRun) {
  TempDir dir;
  // Multi-megabyte records make a kill land inside write() often: those are the torn tails.
  FakeAgent reference_agent{2024, 40, 20'000, dir.path() + "/reference-side", 2 << 20};
  {
    TrajectoryLog log = TrajectoryLog::open(dir.path() + "/reference");
    TrajectorySession session(log);
    reference_agent.run(session, 0);
  }
  std::vector<std::string> reference = semantic_records(dir.path() + "/reference");
  std::mt19937_64 rng(99);
  int kills = 0, trajectories = 0, torn_tails = 0;
  while (kills < 50) {
    ++trajectories;
    std::string path = dir.path() + "/log" + std::to_string(trajectories);
    FakeAgent agent = reference_agent;
    agent.side_file = path + ".side";
    std::map<int, std::set<std::pair<int64_t, int64_t>>> logged_before_run;
    for (int run = 1;; ++run) {
      auto& logged = logged_before_run[run];
      if (::access(path.c_str(), F_OK) == 0) {
        LogContents contents = TrajectoryLog::read(path);  // throws on a corrupt log
        torn_tails += contents.torn_bytes > 0;
        for (const auto& payload : contents.payloads) {
          TrajectoryRecord record = decode_record(payload);
          if (record.type == RecordType::kToolResult) logged.insert({record.step, record.call});
        }
      }
      pid_t child = ::fork();
      if (child == 0) {
        try {
          TrajectoryLog log = TrajectoryLog::open(path);
          TrajectorySession session(log);
          agent.run(session, run);
        } catch (...) {
          ::_exit(3);
        }
        ::_exit(0);
      }
      ASSERT_GT(child, 0);
      bool last_chance = kills >= 50;
      if (!last_chance && kills % 2 == 0) {
        ::usleep(static_cast<useconds_t>(rng() % 12'000));
        ::kill(child, SIGKILL);
      } else if (!last_chance) {
        ::usleep(static_cast<useconds_t>(rng() % 3'000));
        kill_mid_write(child, path);
      }
      int status = 0;
      if (::waitpid(child, &status, 0) != child) status = 0;
      if (WIFSIGNALED(status)) {
        ++kills;
        continue;
      }
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
          << "run " << run << " failed (status " << status << ")";
      break;  // finished
    }
    for (const std::string& line : lines_of(agent.side_file)) {
      std::istringstream fields(line);
      int64_t step = 0, call = 0;
      int run = 0;
      fields >> step >> call >> run;
      EXPECT_EQ(logged_before_run[run].count({step, call}), 0u)
          << "run " << run << " re-executed step " << step << " call " << call << " whose result was logged";
    }
    EXPECT_EQ(semantic_records(path), reference)
        << "trajectory " << trajectories << " differs from the uninterrupted run";
  }
  EXPECT_GE(kills, 50);
  EXPECT_GT(torn_tails, 0) << "no kill landed inside a write";
  RecordProperty("kills", kills);
  RecordProperty("torn_tails_seen", torn_tails);
  std::printf("kill -9 loop: %d kills over %d trajectories, %d torn tails repaired\n", kills, trajectories,
              torn_tails);
}

}  // namespace
}  // namespace baleen::trajectory
