// The prefix cache's disk tier (session/disk_cache.h) over a small random model: entries written by one
// instance are found by the next with the saved states' bits; every damaged or foreign file in the
// directory is reported and skipped, never used; an unfinished write is removed; files beyond max_bytes are
// evicted least recently used first; a file damaged after the scan is refused when hit.
#include "session/disk_cache.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "../engine/small_model.h"
#include "backend/cpu/cpu_backend.h"
#include "core/crc32c.h"
#include "core/durable_file.h"
#include "engine/weights.h"

namespace baleen::session {
namespace {

namespace fs = std::filesystem;

class DiskCacheTest : public ::testing::Test {
 protected:
  Config config = test::small_config();
  std::unique_ptr<Backend> backend = make_cpu_backend(2);
  Model model{config, random_weights(config, 42), *backend};
  ModelIdentity identity{"small", 42};
  StateSpec spec = state_spec(config, StateStorage::kPaper);
  std::vector<int32_t> ids = test::random_ids(40, config.vocab_size, 3);
  fs::path dir = fs::temp_directory_path() / fmt::format("baleen_disk_cache_test_{}", ::getpid());
  std::optional<tokenizer::Tokenizer> tok;

  void SetUp() override {
    if (!fs::exists(tokenizer::default_tokenizer_path())) GTEST_SKIP() << "no tokenizer (scripts/setup.sh)";
    tok = tokenizer::Tokenizer::load(tokenizer::default_tokenizer_path());
    fs::remove_all(dir);
  }
  void TearDown() override { fs::remove_all(dir); }

  DiskCache open(int64_t max_bytes = 0, const ModelIdentity* who = nullptr) {
    return DiskCache({dir, max_bytes, who ? *who : identity}, spec, StateStorage::kPaper, *tok);
  }
  // The first n ids and the state after them.
  CacheRecord record(int64_t n, bool conversation_end = false) {
    SessionState s = model.new_session(StateStorage::kPaper);
    model.forward(std::span(ids).first(static_cast<size_t>(n)), s, LogitRows::kNone);
    return {{ids.begin(), ids.begin() + n}, conversation_end, backend->export_state(s.id())};
  }
  std::string bytes_of(const CacheRecord& r) {
    return encode_cache_record(r, spec, StateStorage::kPaper, identity);
  }
  std::vector<fs::path> files(std::string_view ext) {
    std::vector<fs::path> out;
    for (const fs::directory_entry& f : fs::directory_iterator(dir))
      if (f.path().extension() == ext) out.push_back(f.path());
    return out;
  }
  void write(const fs::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }
};

TEST_F(DiskCacheTest, EntriesWrittenBeforeAreFoundAfterAReopenWithTheirStatesBits) {
  const CacheRecord shallow = record(16), deep = record(33, true);
  {
    DiskCache cache = open();
    cache.put(shallow);
    cache.put(deep);
    EXPECT_TRUE(cache.holds(deep.tokens));
  }  // the destructor writes what was queued
  DiskCache cache = open();
  EXPECT_EQ(cache.entries(), 2u);
  const std::optional<CacheRecord> hit = cache.longest(ids, 0);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->tokens, deep.tokens);
  EXPECT_EQ(bytes_of(*hit), bytes_of(deep)) << "the state read back differs from the one written";
  // Only entries the prompt extends by a token, and longer than asked for.
  EXPECT_EQ(cache.longest(deep.tokens, 0)->tokens, shallow.tokens);
  EXPECT_FALSE(cache.longest(ids, 33));
  EXPECT_FALSE(cache.longest(test::random_ids(40, config.vocab_size, 4), 0));
  // A conversation end's text is matched by a text that extends it.
  std::string text;
  for (const int32_t id : deep.tokens) text += tok->token_bytes(static_cast<uint32_t>(id));
  EXPECT_EQ(cache.longest_text(text + "more").first, deep.tokens);
  EXPECT_EQ(cache.longest_text(text).second, 0u);
}

TEST_F(DiskCacheTest, DamagedOrForeignFilesAreReportedAndSkippedAndAnUnfinishedWriteRemoved) {
  const CacheRecord good = record(20), other = record(30);
  const ModelIdentity stranger{"other", 7};
  {
    DiskCache cache = open();
    cache.put(good);
  }
  const fs::path good_file = files(".entry").at(0);
  const std::string bytes = read_file(good_file);
  {
    DiskCache foreign = open(0, &stranger);
    foreign.put(other);
  }
  // Every name below is what the file's ids would hash to if it were valid: the name alone proves nothing.
  std::string flipped = bytes;
  flipped[flipped.size() / 2] ^= 0x10;
  std::string old_version = bytes;
  old_version[8] = 9;
  const uint32_t crc = crc32c(std::string_view(old_version).substr(0, old_version.size() - 4));
  std::memcpy(old_version.data() + old_version.size() - 4, &crc, 4);
  const std::map<std::string, std::string> bad = {{"truncated", bytes.substr(0, bytes.size() / 3)},
                                                  {"flipped", flipped},
                                                  {"old_version", old_version},
                                                  {"garbage", std::string(300, 'x')},
                                                  {"empty", ""}};
  for (const auto& [name, content] : bad) write(dir / (name + ".entry"), content);
  write(dir / "0123456789abcdef.entry", bytes);  // a valid record under another name
  write(dir / "0000000000000000.entry.tmp", bytes.substr(0, 100));

  testing::internal::CaptureStderr();
  DiskCache cache = open();
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_EQ(cache.entries(), 1u) << log;
  EXPECT_NE(log.find("1 cache entries"), std::string::npos) << log;
  EXPECT_NE(log.find("7 files skipped"), std::string::npos) << log;
  for (const std::string name : {"truncated", "flipped", "old_version", "garbage", "empty"})
    EXPECT_NE(log.find(name + ".entry"), std::string::npos) << name << " not reported:\n" << log;
  EXPECT_NE(log.find("was made by model 'other'"), std::string::npos) << log;
  EXPECT_NE(log.find("0123456789abcdef.entry: its token ids hash to"), std::string::npos) << log;
  EXPECT_TRUE(files(".tmp").empty()) << "the unfinished write was left";
  EXPECT_EQ(files(".entry").size(), 8u) << "a skipped file was deleted (it may be another model's)";
  EXPECT_EQ(cache.longest(ids, 0)->tokens, good.tokens);
}

TEST_F(DiskCacheTest, BeyondMaxBytesTheLeastRecentlyUsedEntriesAreDeleted) {
  const CacheRecord a = record(10), b = record(20), c = record(30);
  const auto size = static_cast<int64_t>(bytes_of(c).size());
  DiskCache cache = open(2 * size + 1);
  cache.put(a);
  cache.put(b);
  cache.flush();
  ASSERT_TRUE(cache.longest(std::vector<int32_t>(ids.begin(), ids.begin() + 11), 0));  // a: most recent now
  cache.put(c);
  cache.flush();
  EXPECT_EQ(cache.entries(), 2u);
  EXPECT_EQ(cache.evictions(), 1);
  EXPECT_FALSE(cache.holds(b.tokens)) << "b was used least recently";
  EXPECT_TRUE(cache.holds(a.tokens));
  EXPECT_EQ(files(".entry").size(), 2u);
  EXPECT_LE(cache.bytes(), 2 * size + 1);
}

TEST_F(DiskCacheTest, AFileDamagedAfterTheScanIsRefusedWhenHitAndTheNextEntryUsed) {
  const CacheRecord shallow = record(12), deep = record(24);
  DiskCache cache = open();
  cache.put(shallow);
  cache.put(deep);
  cache.flush();
  for (const fs::path& f : files(".entry"))
    if (read_file(f).size() == bytes_of(deep).size()) write(f, read_file(f).substr(0, 50));
  testing::internal::CaptureStderr();
  const std::optional<CacheRecord> hit = cache.longest(ids, 0);
  const std::string log = testing::internal::GetCapturedStderr();
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->tokens, shallow.tokens);
  EXPECT_NE(log.find("not used"), std::string::npos) << log;
  EXPECT_FALSE(cache.holds(deep.tokens));
}

}  // namespace
}  // namespace baleen::session
