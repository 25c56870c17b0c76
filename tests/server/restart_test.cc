// `baleen serve --state-dir` killed with SIGKILL at random moments — while it starts, prefills, decodes or
// writes a cache entry — and restarted each time, under an agent-like client: sessions whose every turn's
// prompt is the last prompt, the answer (re-encoded) and a new tool result, greedy. After each restart every
// entry file left on disk must load (the server reports none skipped), the first turn must resume from the
// longest entry on disk that its prompt extends (usage.cached_tokens), and every answer must be the one an
// uninterrupted server without a state dir gives. BALEEN_RESTART_KILLS (default 20) and
// BALEEN_RESTART_SEED reproduce a run.
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include "chat/conversation.h"
#include "core/durable_file.h"
#include "tokenizer/tokenizer.h"

namespace baleen::server {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using chat::Json;

constexpr int kSessions = 3, kTurns = 5;
constexpr int64_t kAnswerTokens = 8;
// Small enough that the entries of the three sessions (~0.3–1 MB each on nano) do not all fit: the loop
// also restarts over a directory that evicted some.
constexpr const char* kCacheDisk = "6MiB";
constexpr uint64_t kCacheDiskBytes = 6 << 20;

int64_t env_int(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::stoll(v) : fallback;
}

std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// `baleen serve` as a child process, its output in `log`.
struct Child {
  pid_t pid = -1;
  int port = 0;
  fs::path log;

  void kill_now() {
    if (pid < 0) return;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    pid = -1;
  }
  ~Child() { kill_now(); }
};

void spawn(Child& c, const std::vector<std::string>& extra, const fs::path& log) {
  std::vector<std::string> args = {BALEEN_BINARY, "serve", "--port",        "0",
                                   "--threads",   "2",     "--max-context", "4096"};
  args.insert(args.end(), extra.begin(), extra.end());
  c.log = log;
  c.pid = ::fork();
  if (c.pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
}

// Waits until the child serves; false when it exited first.
bool wait_ready(Child& c) {
  const std::string listening = "listening at 127.0.0.1:";
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  while (Clock::now() < deadline) {
    if (::waitpid(c.pid, nullptr, WNOHANG) != 0) return false;
    const std::string log = read_text(c.log);
    if (const size_t at = log.find(listening); c.port == 0 && at != std::string::npos)
      c.port = std::atoi(log.c_str() + at + listening.size());
    if (c.port != 0) {
      httplib::Client client("127.0.0.1", c.port);
      if (auto res = client.Get("/health"); res && res->status == 200) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

struct Answer {
  bool ok = false;
  std::string text;
  int64_t prompt_tokens = 0, cached_tokens = 0;
};

Answer complete(int port, const std::vector<int32_t>& prompt) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(120);
  const Json body = {{"prompt", prompt}, {"max_tokens", kAnswerTokens}, {"temperature", 0}};
  const auto res = client.Post("/v1/completions", body.dump(), "application/json");
  if (!res || res->status != 200) return {};
  const Json j = Json::parse(res->body);
  return {true, j["choices"][0]["text"], j["usage"]["prompt_tokens"],
          j["usage"]["prompt_tokens_details"]["cached_tokens"]};
}

// The token ids of each entry file in `dir` (session/cache_record.h: a 24-byte header whose last 8 bytes
// count the ids that follow), read independently of the server; and whether an unfinished write is there.
struct DirSnapshot {
  std::vector<std::vector<int32_t>> entries;
  uint64_t bytes = 0;  // of the entry files
};

bool unfinished_write(const fs::path& dir) {
  std::error_code ec;
  for (const fs::directory_entry& f : fs::directory_iterator(dir, ec))
    if (f.path().extension() == ".tmp") return true;
  return false;
}

DirSnapshot snapshot(const fs::path& dir) {
  DirSnapshot s;
  if (!fs::exists(dir)) return s;
  for (const fs::directory_entry& f : fs::directory_iterator(dir)) {
    if (f.path().extension() != ".entry") continue;
    const std::string bytes = read_file(f.path());
    s.bytes += bytes.size();
    EXPECT_GE(bytes.size(), 24u) << f.path();
    if (bytes.size() < 24) continue;
    uint64_t count = 0;
    std::memcpy(&count, bytes.data() + 16, 8);
    EXPECT_LE(24 + count * 4, bytes.size()) << f.path();
    std::vector<int32_t> ids(count);
    std::memcpy(ids.data(), bytes.data() + 24, count * 4);
    s.entries.push_back(std::move(ids));
  }
  return s;
}

// What a restarted server resumes `prompt` from: the longest entry on disk it extends.
int64_t longest_prefix(const DirSnapshot& s, const std::vector<int32_t>& prompt) {
  int64_t best = 0;
  for (const std::vector<int32_t>& e : s.entries)
    if (e.size() < prompt.size() && std::equal(e.begin(), e.end(), prompt.begin()))
      best = std::max(best, static_cast<int64_t>(e.size()));
  return best;
}

// An agent-like session: a system prompt, then tool results the agent appends after each answer.
std::string system_text(int session) {
  std::string s = fmt::format("You are agent {} working in a repository. ", session);
  for (int i = 0; i < 12; ++i)
    s += fmt::format("Rule {}: keep every change small and test it before moving on. ", i);
  return s;
}

std::string tool_result(int session, int turn) {
  return fmt::format(
      "\nTool result {}.{}: the file src/module_{}.cc has {} lines; the build printed {} warnings.\n",
      session, turn, turn, 100 + 17 * turn + session, turn % 3);
}

// The turns of every session, each prompt built from the answers before it (the uninterrupted server's).
struct Script {
  std::vector<std::vector<int32_t>> prompts;  // session * kTurns + turn
  std::vector<std::string> answers;
};

Script reference_script(const tokenizer::Tokenizer& tok, const fs::path& tmp) {
  Child server;
  spawn(server, {}, tmp / "reference.log");
  EXPECT_TRUE(wait_ready(server)) << read_text(server.log);
  Script script;
  auto ids = [&](const std::string& text) {
    const std::vector<uint32_t> u = tok.encode(text);
    return std::vector<int32_t>(u.begin(), u.end());
  };
  for (int s = 0; s < kSessions; ++s) {
    std::vector<int32_t> prompt = ids(system_text(s) + tool_result(s, 0));
    for (int t = 0; t < kTurns; ++t) {
      const Answer a = complete(server.port, prompt);
      EXPECT_TRUE(a.ok) << read_text(server.log);
      script.prompts.push_back(prompt);
      script.answers.push_back(a.text);
      for (const int32_t id : ids(a.text + tool_result(s, t + 1))) prompt.push_back(id);
    }
  }
  return script;
}

// How a run of the server ends.
enum class KillAt { kStarting, kInTurn, kOnWrite };

TEST(ServerRestart, KilledAtRandomMomentsEveryEntryLoadsAndTheNextTurnResumesFromDisk) {
  const fs::path nano = fs::path(BALEEN_SOURCE_DIR) / "models/baleen-nano/model-00001-of-00002.safetensors";
  if (!fs::exists(tokenizer::default_tokenizer_path()) || !fs::exists(nano))
    GTEST_SKIP() << "no tokenizer or unpacked baleen-nano (scripts/setup.sh)";
  const int64_t kills = env_int("BALEEN_RESTART_KILLS", 20);
  const auto seed = static_cast<uint64_t>(env_int("BALEEN_RESTART_SEED", std::random_device{}()));
  SCOPED_TRACE(fmt::format("BALEEN_RESTART_SEED={}", seed));
  std::mt19937_64 rng(seed);
  const fs::path tmp = fs::temp_directory_path() / fmt::format("baleen_restart_{}", ::getpid());
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  const fs::path dir = tmp / "state";
  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::load(tokenizer::default_tokenizer_path());
  const Script script = reference_script(tok, tmp);
  ASSERT_EQ(script.answers.size(), size_t{kSessions * kTurns});

  const auto start = Clock::now();
  size_t next = 0;  // the turn to send
  int64_t killed = 0, resumed_turns = 0, turns = 0;
  int64_t kills_starting = 0, kills_mid_turn = 0, kills_mid_write = 0;  // the last two may overlap
  double turn_ms = 200;  // a turn's wall time, measured as it goes
  const std::vector<std::string> args = {"--state-dir", dir.string(), "--cache-disk", kCacheDisk};
  for (int64_t run = 0; killed < kills; ++run) {
    SCOPED_TRACE(fmt::format("run {}", run));
    const DirSnapshot before = snapshot(dir);
    const auto way = static_cast<KillAt>(rng() % 5 == 0 ? 0 : 1 + rng() % 2);
    Child server;
    spawn(server, args, tmp / fmt::format("run{}.log", run));
    if (way == KillAt::kStarting) {  // while loading the model or scanning the directory
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 400));
      server.kill_now();
      ++killed;
      ++kills_starting;
      continue;
    }
    ASSERT_TRUE(wait_ready(server)) << read_text(server.log);
    // Every entry file it found loaded; an unfinished write was removed, never read. A kill between an
    // entry's rename and the evictions it called for leaves the directory over --cache-disk: the scan then
    // evicts the least recently used files, and the turn resumes from what is left.
    const std::string log = read_text(server.log);
    const size_t line = log.find(" cache entries (");
    ASSERT_NE(line, std::string::npos) << log;
    const uint64_t loaded = std::stoull(log.substr(log.rfind(": ", line) + 2));
    const uint64_t loaded_bytes = std::stoull(log.substr(line + 16));
    if (before.bytes <= kCacheDiskBytes)
      EXPECT_EQ(loaded, before.entries.size()) << log;
    else
      EXPECT_LE(loaded_bytes, kCacheDiskBytes) << log;
    EXPECT_NE(log.find(" 0 files skipped"), std::string::npos) << log;
    const DirSnapshot ready = snapshot(dir);
    EXPECT_EQ(ready.entries.size(), loaded) << log;

    // The first turn after the restart: resumed from disk, and the answer the uninterrupted server gave.
    {
      const std::vector<int32_t>& prompt = script.prompts[next];
      const auto t0 = Clock::now();
      const Answer a = complete(server.port, prompt);
      turn_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      ASSERT_TRUE(a.ok) << read_text(server.log);
      EXPECT_EQ(a.text, script.answers[next]) << "turn " << next;
      EXPECT_EQ(a.cached_tokens, longest_prefix(ready, prompt))
          << "turn " << next << " of " << prompt.size() << " tokens";
      resumed_turns += a.cached_tokens > 0;
      ++turns;
      next = (next + 1) % script.prompts.size();
    }

    // The next turn is killed: at a random moment of it, or as soon as a cache entry is being written.
    Answer answer;
    std::atomic<bool> answered{false};
    std::thread client([&, port = server.port, prompt = script.prompts[next]] {
      answer = complete(port, prompt);
      answered = true;
    });
    const auto sent = Clock::now();
    // A random moment within 1.5 turn times: in prefill, decode, or the writes after the answer.
    const auto at = sent + std::chrono::microseconds(rng() % static_cast<uint64_t>(turn_ms * 1500 + 1));
    while (Clock::now() - sent < std::chrono::seconds(60)) {
      if (way == KillAt::kInTurn && Clock::now() >= at) break;
      if (way == KillAt::kOnWrite && (unfinished_write(dir) || answered))
        break;  // answered: its writes came and went between two looks
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    server.kill_now();
    client.join();
    ++killed;
    kills_mid_write += unfinished_write(dir);
    kills_mid_turn += !answer.ok;
    if (answer.ok) {  // it ended before the kill: the answer counts
      EXPECT_EQ(answer.text, script.answers[next]) << "turn " << next;
      ++turns;
      next = (next + 1) % script.prompts.size();
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf(
      "%lld kills: %lld starting, %lld before the answer, %lld left an unfinished write; %lld turns, %lld "
      "first "
      "turns resumed from disk, %.1f s\n",
      static_cast<long long>(killed), static_cast<long long>(kills_starting),
      static_cast<long long>(kills_mid_turn), static_cast<long long>(kills_mid_write),
      static_cast<long long>(turns), static_cast<long long>(resumed_turns), seconds);
  EXPECT_GE(killed, kills);
  EXPECT_GT(resumed_turns, 0);
  // The moments the loop is for came (each is likely many times over in 20 kills).
  EXPECT_GT(kills_mid_turn, 0);
  EXPECT_GT(kills_mid_write, 0);
  fs::remove_all(tmp);
}

// Stored responses (/v1/responses with store: true) are in --state-dir too: a kill -9 keeps them, and a
// log damaged before its tail is set aside (reported, renamed) rather than trusted.
TEST(ServerRestart, StoredResponsesSurviveAKillAndADamagedLogIsSetAside) {
  const fs::path nano = fs::path(BALEEN_SOURCE_DIR) / "models/baleen-nano/model-00001-of-00002.safetensors";
  if (!fs::exists(tokenizer::default_tokenizer_path()) || !fs::exists(nano))
    GTEST_SKIP() << "no tokenizer or unpacked baleen-nano (scripts/setup.sh)";
  const fs::path tmp = fs::temp_directory_path() / fmt::format("baleen_restart_responses_{}", ::getpid());
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  const fs::path dir = tmp / "state";
  const std::vector<std::string> args = {"--state-dir", dir.string()};
  auto post = [](int port, const Json& body) {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(120);
    const auto res = client.Post("/v1/responses", body.dump(), "application/json");
    EXPECT_TRUE(res && res->status == 200) << (res ? res->body : "no answer");
    return res && res->status == 200 ? Json::parse(res->body) : Json();
  };
  auto get = [](int port, const std::string& id) {
    httplib::Client client("127.0.0.1", port);
    const auto res = client.Get("/v1/responses/" + id);
    return res ? std::pair(res->status, res->body) : std::pair(0, std::string());
  };
  std::string id, first;
  {
    Child server;
    spawn(server, args, tmp / "first.log");
    ASSERT_TRUE(wait_ready(server)) << read_text(server.log);
    const Json r = post(server.port, {{"input", "Say hi."}, {"max_output_tokens", 8}, {"temperature", 0}});
    id = r.value("id", "");
    first = r.dump();
  }  // killed
  {
    Child server;
    spawn(server, args, tmp / "second.log");
    ASSERT_TRUE(wait_ready(server)) << read_text(server.log);
    const auto [status, body] = get(server.port, id);
    EXPECT_EQ(status, 200) << body;
    EXPECT_EQ(body, first);
    post(server.port, {{"input", "And again."}, {"previous_response_id", id}, {"max_output_tokens", 8}});
  }
  std::string log = read_file(dir / "responses.log");
  log[40] ^= 1;  // inside the first of two records: not a torn tail
  std::ofstream(dir / "responses.log", std::ios::binary) << log;
  Child server;
  spawn(server, args, tmp / "third.log");
  ASSERT_TRUE(wait_ready(server)) << read_text(server.log);
  EXPECT_NE(read_text(server.log).find("renamed to"), std::string::npos) << read_text(server.log);
  EXPECT_TRUE(fs::exists(dir / "responses.log.bad"));
  EXPECT_EQ(get(server.port, id).first, 404);
  server.kill_now();
  fs::remove_all(tmp);
}

}  // namespace
}  // namespace baleen::server
