// Process sandboxes built ahead (prepared_sandbox.h), the pool that builds them (ahead_pool.h), and
// destroy's background reaping (process_sandbox.cc).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/fd.h"
#include "sandbox/ahead_pool.h"
#include "sandbox/sandbox.h"
#include "sandbox_fixture.h"

namespace baleen::sandbox {
namespace {

using testing::spec_for;
using testing::TempDir;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Polls `done` every 5 ms for up to 10 s; returns its last answer.
template <typename F>
bool eventually(F done) {
  for (int i = 0; i < 2000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return done();
}

// What a test's pool makes and discards; on the heap, as the pool is: its worker outlives the test.
struct Record {
  std::mutex mutex;
  std::vector<int> made, discarded;
  std::atomic<bool> fail_key_3{true};
  size_t count(const std::vector<int>& list) {
    std::lock_guard lock(mutex);
    return list.size();
  }
};

TEST(AheadPool, MakesForTheLastKeyNoMoreThanWereTakenAndDiscardsForAnother) {
  static auto* record = new Record();  // static: reachable, as the sandboxes' pools are
  auto make = [](const int& key) -> std::optional<int> {
    if (key == 3 && record->fail_key_3) return std::nullopt;
    std::lock_guard lock(record->mutex);
    record->made.push_back(key * 100 + static_cast<int>(record->made.size()));
    return record->made.back();
  };
  auto discard = [](int& item) {
    std::lock_guard lock(record->mutex);
    record->discarded.push_back(item);
  };
  static auto* pool = new AheadPool<int, int>(2, 0ms, make, discard);  // never destroyed, as theirs
  auto made = [] { return record->count(record->made); };
  EXPECT_FALSE(pool->take(1)) << "nothing is ready before the first take";
  ASSERT_TRUE(eventually([&] { return made() == 1; }));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(made(), 1u) << "one take so far: one made ahead";
  EXPECT_EQ(pool->take(1), std::optional<int>(100));
  ASSERT_TRUE(eventually([&] { return made() == 3; })) << "two takes: up to two ready";
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(made(), 3u) << "the capacity is 2";
  EXPECT_FALSE(pool->take(2)) << "what was made for key 1 does not serve key 2";
  EXPECT_EQ(record->count(record->discarded), 2u);
  ASSERT_TRUE(eventually([&] { return made() == 5; }));
  EXPECT_EQ(pool->take(2), std::optional<int>(203));
  // A key it cannot make for: the worker stops trying until the key changes.
  EXPECT_FALSE(pool->take(3));
  std::this_thread::sleep_for(50ms);
  record->fail_key_3 = false;
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(pool->take(3)) << "no retry for the key that failed";
  EXPECT_FALSE(pool->take(4));
  ASSERT_TRUE(eventually([&] { return made() >= 7; }));
  EXPECT_TRUE(pool->take(4));
}

TEST(AheadPool, WaitsForAPauseInTheTakesWhileSomeAreReady) {
  static auto* made = new std::atomic<int>(0);
  static auto* pool = new AheadPool<int, int>(
      4, 300ms, [](const int&) -> std::optional<int> { return (*made)++; }, [](int&) {});
  EXPECT_FALSE(pool->take(1));
  ASSERT_TRUE(eventually([&] { return *made == 1; }));
  auto taken_at = std::chrono::steady_clock::now();
  EXPECT_TRUE(pool->take(1));  // two takes: up to two ready
  ASSERT_TRUE(eventually([&] { return *made == 2; }));
  EXPECT_LT(std::chrono::steady_clock::now() - taken_at, 250ms) << "none ready: made at once";
  ASSERT_TRUE(eventually([&] { return *made == 3; }));
  EXPECT_GE(std::chrono::steady_clock::now() - taken_at, 300ms) << "one ready: the next waits for quiet";
}

// Ids of the sandboxes prepared in a state root: directories with the `prepared` mark.
std::vector<std::string> prepared_ids(const std::string& root) {
  std::vector<std::string> ids;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(root, error)) {
    if (fs::exists(entry.path() / "prepared")) ids.push_back(entry.path().filename().string());
  }
  return ids;
}

std::string run_shell(Sandbox& sandbox, const std::string& line) {
  ExecRequest request;
  request.shell = line;
  ExecResult result = sandbox.exec(request);
  return result.stdout_data + (result.exit_code == 0 ? "" : "exit " + std::to_string(result.exit_code));
}

TEST(PreparedSandbox, OneMadeAheadIsFreshAndTakesTheLimitsOfItsCreate) {
  BALEEN_REQUIRE_PROCESS_SANDBOX(image);
  TempDir state;
  SandboxSpec spec = spec_for(image, state);
  auto first = create_sandbox("process", spec);
  EXPECT_EQ(run_shell(*first, "echo used > /marker && echo ok"), "ok\n");
  ASSERT_TRUE(eventually([&] { return !prepared_ids(state.path()).empty(); })) << "the pool builds one";
  std::vector<std::string> ids = prepared_ids(state.path());
  EXPECT_EQ(list_sandboxes(state.path()).size(), 1u) << "prepared sandboxes are not listed";
  first->destroy();

  spec.limits.memory_bytes = int64_t{96} << 20;  // same controllers, other limits
  spec.limits.pids = 60;
  auto second = create_sandbox("process", spec);
  EXPECT_NE(std::find(ids.begin(), ids.end(), second->id()), ids.end()) << "taken from the pool";
  EXPECT_FALSE(fs::exists(state.path() + "/" + second->id() + "/prepared"));
  EXPECT_EQ(run_shell(*second, "test -e /marker || echo fresh"), "fresh\n");
  EXPECT_EQ(run_shell(*second, "hostname; id -u"), "sandbox\n0\n");
  auto saved = nlohmann::json::parse(testing::slurp(state.path() + "/" + second->id() + "/sandbox.json"));
  EXPECT_EQ(saved.at("limits").at("pids"), 60);
  for (const std::string dir : saved.at("cgroups")) {
    std::string procs = testing::slurp(dir + "/cgroup.procs");
    EXPECT_EQ(procs, std::to_string(saved.at("init_pid").get<int>()) + "\n") << dir << " holds only init";
    if (dir.find("/pids/") != std::string::npos) {
      EXPECT_EQ(testing::slurp(dir + "/pids.max"), "60\n");
    } else if (dir.find("/memory/") != std::string::npos) {
      EXPECT_EQ(testing::slurp(dir + "/memory.limit_in_bytes"), std::to_string(int64_t{96} << 20) + "\n");
    }
  }
}

TEST(PreparedSandbox, OnlyASpecLikeTheOneTheyWereBuiltForIsServedFromThePool) {
  BALEEN_REQUIRE_PROCESS_SANDBOX(image);
  TempDir state;
  SandboxSpec spec = spec_for(image, state);
  auto first = create_sandbox("process", spec);
  ASSERT_TRUE(eventually([&] { return !prepared_ids(state.path()).empty(); }));
  std::vector<std::string> ids = prepared_ids(state.path());

  SandboxSpec smaller = spec;
  smaller.limits.disk_bytes = int64_t{4} << 20;  // the root's tmpfs differs: not served from the pool
  auto second = create_sandbox("process", smaller);
  EXPECT_EQ(std::find(ids.begin(), ids.end(), second->id()), ids.end());
  for (const std::string& id : ids) EXPECT_FALSE(fs::exists(state.path() + "/" + id)) << "discarded";
  EXPECT_NE(run_shell(*second, "dd if=/dev/zero of=/big bs=1M count=6 2>/dev/null && echo fits"), "fits\n")
      << "its writable layer has its own 4 MiB";

  ASSERT_TRUE(eventually([&] { return !prepared_ids(state.path()).empty(); }));
  ids = prepared_ids(state.path());
  SandboxSpec persisted = smaller;
  persisted.persist = true;  // outlives this process: never one prepared by it
  auto third = create_sandbox("process", persisted);
  EXPECT_EQ(std::find(ids.begin(), ids.end(), third->id()), ids.end());
  third->destroy();
}

// A unix socket listening at dir/control.sock, as a prepared sandbox's init holds it.
Fd listen_at(const std::string& dir) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::string path = dir + "/control.sock";
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  Fd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  EXPECT_EQ(::listen(fd.get(), 4), 0);
  return fd;
}

TEST(PreparedSandbox, DirectoriesLeftByAKilledProcessAreSweptAndLiveOnesKept) {
  BALEEN_REQUIRE_PROCESS_SANDBOX(image);
  TempDir state;
  std::string abandoned = state.path() + "/0123456789ab", live = state.path() + "/ba9876543210";
  for (const std::string& dir : {abandoned, live}) {
    fs::create_directories(dir + "/mnt");
    std::ofstream(dir + "/prepared").flush();
  }
  std::ofstream(abandoned + "/control.sock").flush();  // nobody listens
  Fd listener = listen_at(live);
  auto sandbox = create_sandbox("process", spec_for(image, state));
  EXPECT_TRUE(eventually([&] { return !fs::exists(abandoned); })) << "swept when the pool first builds here";
  EXPECT_TRUE(fs::exists(live)) << "another process's prepared sandbox, still served";
}

TEST(ProcessSandbox, DestroyReturnsAtOnceAndTheReaperLeavesNothing) {
  BALEEN_REQUIRE_PROCESS_SANDBOX(image);
  TempDir state;
  auto sandbox = create_sandbox("process", spec_for(image, state));
  EXPECT_EQ(run_shell(*sandbox, "sleep 1000 & echo started"), "started\n");
  auto saved = nlohmann::json::parse(testing::slurp(state.path() + "/" + sandbox->id() + "/sandbox.json"));
  pid_t init = saved.at("init_pid").get<int>();
  std::vector<std::string> cgroups = saved.at("cgroups");
  sandbox->destroy();
  EXPECT_FALSE(fs::exists(state.path() + "/" + sandbox->id())) << "the state directory goes in destroy";
  EXPECT_TRUE(list_sandboxes(state.path()).empty());
  EXPECT_THROW(run_shell(*sandbox, "true"), Error);
  EXPECT_TRUE(eventually([&] { return ::kill(init, 0) != 0 && errno == ESRCH; })) << "init is reaped";
  EXPECT_TRUE(eventually([&] {
    return std::none_of(cgroups.begin(), cgroups.end(), [](const std::string& dir) { return fs::exists(dir); });
  })) << "and its cgroups removed";
}

// Run as a child by the next test: creates one sandbox, waits until the pool has prepared another,
// destroys the first and exits.
TEST(PreparedSandboxChild, CreatesOneWaitsForAPreparedOneAndExits) {
  const char* root = std::getenv("BALEEN_PREPARED_CHILD_ROOT");
  if (root == nullptr) GTEST_SKIP() << "runs only as the child of ThoseOfAnExitingProcessGoWithIt";
  SandboxSpec spec;
  spec.image = testing::base_image(nullptr);
  spec.state_root = root;
  auto sandbox = create_sandbox("process", spec);
  ASSERT_TRUE(eventually([&] { return !prepared_ids(root).empty(); }));
  sandbox->destroy();
}

TEST(PreparedSandbox, ThoseOfAnExitingProcessGoWithIt) {
  BALEEN_REQUIRE_PROCESS_SANDBOX(image);
  TempDir state;
  std::string self = fs::read_symlink("/proc/self/exe").string();
  std::string command = "BALEEN_PREPARED_CHILD_ROOT=" + state.path() + " " + self +
                        " --gtest_filter=PreparedSandboxChild.CreatesOneWaitsForAPreparedOneAndExits";
  std::string output;
  ASSERT_TRUE(testing::run_script(command, &output)) << output;
  EXPECT_NE(output.find("[  PASSED  ] 1 test"), std::string::npos) << output;
  EXPECT_TRUE(fs::is_empty(state.path())) << "no prepared or destroyed sandbox's directory is left";
}

}  // namespace
}  // namespace baleen::sandbox
