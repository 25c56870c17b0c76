// Session states saved and loaded (engine/state_file.h), forked with shared pages (backend state store):
// a loaded state continues with the bits of the one saved; every damaged or foreign file is refused; a kill -9
// during a save leaves the previous file intact; forks of one long prefix hold its entries once.
#include "engine/state_file.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "../backend/cpu/random_inputs.h"
#include "backend/cpu/cpu_backend.h"
#include "core/error.h"
#include "small_model.h"

namespace baleen {
namespace {

namespace fs = std::filesystem;

class StateFileTest : public ::testing::Test {
 protected:
  Config config = test::small_config();
  std::unique_ptr<Backend> backend = make_cpu_backend(2);
  Model model{config, random_weights(config, 42), *backend};
  ModelIdentity identity{"small", 42};
  std::vector<int32_t> ids = test::random_ids(61, config.vocab_size, 3);
  fs::path dir = fs::temp_directory_path() / fmt::format("baleen_state_test_{}", ::getpid());

  void SetUp() override { fs::create_directories(dir); }
  void TearDown() override { fs::remove_all(dir); }

  std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
  }
  void write(const fs::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }
  std::string refusal(const fs::path& p, StateStorage storage, const ModelIdentity& who) {
    try {
      load_state(p, model, storage, who);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
};

TEST_F(StateFileTest, LoadedStateContinuesWithTheSavedStatesBits) {
  for (StateStorage storage : {StateStorage::kFp32, StateStorage::kPaper}) {
    for (int64_t split : {0, 1, 3, 16, 37}) {  // before, at and after closed windows of both ratios
      SessionState s = model.new_session(storage);
      model.forward(std::span(ids).first(static_cast<size_t>(split)), s, LogitRows::kNone);
      const fs::path file = dir / "s.state";
      save_state(file, s, model, identity);
      SessionState loaded = load_state(file, model, storage, identity);
      EXPECT_EQ(loaded.length(), split);
      EXPECT_EQ(loaded.usage().bytes, s.usage().bytes);
      const auto rest = std::span(ids).subspan(static_cast<size_t>(split));
      const Tensor want = model.forward(rest, s), got = model.forward(rest, loaded);
      EXPECT_TRUE(std::equal(got.data(), got.data() + got.size(), want.data())) << "split " << split;
    }
  }
}

TEST_F(StateFileTest, DamagedOrForeignFilesAreRefusedWithTheReason) {
  SessionState s = model.new_session(StateStorage::kPaper);
  model.forward(ids, s, LogitRows::kNone);
  const fs::path file = dir / "s.state", bad = dir / "bad.state";
  save_state(file, s, model, identity);
  const std::string bytes = read(file);
  const auto expect_refused = [&](const std::string& damaged, const std::string& why, StateStorage storage,
                                  const ModelIdentity& who) {
    write(bad, damaged);
    const std::string error = refusal(bad, storage, who);
    EXPECT_NE(error.find(why), std::string::npos) << "wanted '" << why << "', got '" << error << "'";
  };
  expect_refused(bytes.substr(0, bytes.size() / 2), "checksum", StateStorage::kPaper, identity);
  expect_refused(bytes.substr(0, 10), "truncated", StateStorage::kPaper, identity);
  expect_refused("", "truncated", StateStorage::kPaper, identity);
  std::mt19937 rng(5);
  for (int i = 0; i < 20; ++i) {  // one flipped bit anywhere
    std::string flipped = bytes;
    const size_t at = std::uniform_int_distribution<size_t>(12, bytes.size() - 1)(rng);
    flipped[at] = static_cast<char>(flipped[at] ^ (1 << (i % 8)));
    expect_refused(flipped, "checksum", StateStorage::kPaper, identity);
  }
  std::string version = bytes;
  version[8] = 9;
  expect_refused(version, "version 9", StateStorage::kPaper, identity);
  expect_refused(bytes, "not 'other'", StateStorage::kPaper, {"other", 42});
  expect_refused(bytes, "not 'small' (000000000000002b)", StateStorage::kPaper, {"small", 43});
  expect_refused(bytes, "holds paper storage", StateStorage::kFp32, identity);
  expect_refused("BALEENXX" + bytes.substr(8), "not a baleen state file", StateStorage::kPaper, identity);
  // The model's layer formats are part of the file: another config with the same name is refused.
  Config other = config;
  other.sliding_window = 16;
  Model model2(other, random_weights(other, 42), *backend);
  write(bad, bytes);
  try {
    load_state(bad, model2, StateStorage::kPaper, identity);
    ADD_FAILURE() << "a state of another layer layout loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer formats"), std::string::npos) << e.what();
  }
}

// A lying header (a huge length with a valid checksum) is refused before anything is allocated for it.
TEST_F(StateFileTest, SizesThatDoNotFollowFromTheLengthAreRefusedBeforeAllocating) {
  SessionState s = model.new_session(StateStorage::kFp32);
  model.forward(ids, s, LogitRows::kNone);
  const StateSpec spec = state_spec(config, StateStorage::kFp32);
  StateImage image = backend->export_state(s.id());
  image.length = int64_t{1} << 39;
  const std::string lying = encode_state_file(image, spec, StateStorage::kFp32, identity);
  try {
    decode_state_file(lying, spec, StateStorage::kFp32, identity, "lying");
    ADD_FAILURE() << "a lying length was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("expected for 549755813888 tokens"), std::string::npos) << e.what();
  }
}

// A child saves two different states over one file as fast as it can; a kill -9 at a random moment must leave
// a file that loads and is one of the two, every time.
TEST_F(StateFileTest, KillDuringSaveLeavesThePreviousFileIntact) {
  SessionState a = model.new_session(StateStorage::kPaper), b = model.new_session(StateStorage::kPaper);
  model.forward(std::span(ids).first(20), a, LogitRows::kNone);
  model.forward(ids, b, LogitRows::kNone);
  const fs::path file = dir / "s.state";
  save_state(file, a, model, identity);
  const std::string want_a = read(file);
  save_state(file, b, model, identity);
  const std::string want_b = read(file);
  std::mt19937 rng(17);
  for (int kill = 0; kill < 20; ++kill) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      for (int i = 0;; ++i) save_state(file, i % 2 ? a : b, model, identity);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(200, 20000)(rng)));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    const std::string now = read(file);
    EXPECT_TRUE(now == want_a || now == want_b) << "kill " << kill << ": the file is neither state";
    EXPECT_NO_THROW(load_state(file, model, StateStorage::kPaper, identity)) << "kill " << kill;
  }
}

// 16 sessions forked from one long prefix share its entry pages: together they hold little more than the prefix
// once plus each fork's own window, compressor tails and partly filled pages.
TEST_F(StateFileTest, ForksOfALongPrefixHoldItsEntriesOnce) {
  Config c = test::small_config();
  // HCA layers only, so the 16K-token prefill stays quick under the sanitizers (CSA's indexer is quadratic).
  c.layers = {{0, MoeRouting::kLearned}, {16, MoeRouting::kLearned}, {32, MoeRouting::kLearned}};
  c.num_layers = 3;
  auto be = make_cpu_backend(2);
  Model m(c, random_weights(c, 5), *be);
  const std::vector<int32_t> prefix = test::random_ids(16384, c.vocab_size, 8);
  SessionState root = m.new_session(StateStorage::kPaper);
  m.prefill(prefix, root, 2048, LogitRows::kNone);
  const int64_t prefix_alone = be->state_memory();
  std::vector<SessionState> forks;
  int64_t tails = 0;
  for (int i = 0; i < 16; ++i) {
    forks.push_back(root.fork());
    m.forward(test::random_ids(3 + i, c.vocab_size, static_cast<uint32_t>(100 + i)), forks.back(), LogitRows::kLast);
    tails += forks.back().usage().private_bytes;
  }
  const int64_t total = be->state_memory();
  std::printf("prefix alone %ld bytes, 16 forks' own bytes %ld, all together %ld (%.3f of prefix + tails)\n",
              static_cast<long>(prefix_alone), static_cast<long>(tails), static_cast<long>(total),
              double(total) / double(prefix_alone + tails));
  EXPECT_LE(double(total), 1.25 * double(prefix_alone + tails));
  EXPECT_GT(prefix_alone, 16 * forks.front().usage().private_bytes);  // the entries dominate: sharing matters
  // The forks go on exactly as the prefix would have.
  SessionState again = m.new_session(StateStorage::kPaper);
  m.prefill(prefix, again, 2048, LogitRows::kNone);
  const std::vector<int32_t> next = test::random_ids(3, c.vocab_size, 100);
  SessionState f = root.fork();
  const Tensor a = m.forward(next, f), b = m.forward(next, again);
  EXPECT_TRUE(std::equal(a.data(), a.data() + a.size(), b.data()));
}

}  // namespace
}  // namespace baleen
