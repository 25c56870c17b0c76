// The prefix cache's disk tier (`--state-dir`): one file per entry, `<hash of its token ids>.entry`, a
// session/cache_record.h record written whole by write_file_durably (temporary file, fdatasync, rename) on
// a writer thread of its own, and indexed only once it is on disk. Files are never changed in place: an
// entry is written once and deleted when evicted (least recently used first, beyond max_bytes), so a
// kill -9 at any moment loses at most the entry being written. At start every file is read and verified in
// full (checksum, model identity, state spec, token count); a bad one is reported and skipped — deleted
// when corrupt, left alone when it is another model's or version's — and never trusted. A hit is read and
// verified again before it is used. Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "session/cache_record.h"
#include "tokenizer/tokenizer.h"

namespace baleen::session {

struct DiskCacheOptions {
  std::filesystem::path dir;  // created when missing
  int64_t max_bytes = 0;      // entry files kept at most; 0: no bound
  ModelIdentity model;        // whose states the entries must be
};

class DiskCache {
 public:
  // Scans `options.dir` (Error when it cannot be created or read). Borrows the tokenizer.
  DiskCache(DiskCacheOptions options, StateSpec spec, StateStorage storage,
            const tokenizer::Tokenizer& tokenizer);
  ~DiskCache();  // writes what is queued, then stops the writer
  DiskCache(const DiskCache&) = delete;
  DiskCache& operator=(const DiskCache&) = delete;

  // Queues the entry for writing (the state already exported, so the caller's thread never waits for the
  // disk); nothing when it is stored or queued already. A failed write is logged and forgotten.
  void put(CacheRecord record);
  // Whether `tokens` are stored or queued.
  bool holds(const std::vector<int32_t>& tokens) const;
  // The longest stored entry that `prompt` extends by at least one token and that holds more than
  // `longer_than` tokens, read and verified; one that fails is reported, deleted, and the next tried.
  std::optional<CacheRecord> longest(const std::vector<int32_t>& prompt, int64_t longer_than);
  // The token ids of the longest stored conversation end whose text `text` extends (strictly), and that
  // text's size in bytes; empty when none.
  std::pair<std::vector<int32_t>, size_t> longest_text(std::string_view text) const;
  // Waits until every queued entry is written (or failed).
  void flush();

  int64_t bytes() const;
  size_t entries() const;
  int64_t evictions() const;
  const std::filesystem::path& dir() const { return options_.dir; }

 private:
  struct Entry {
    std::vector<int32_t> tokens;
    std::string text;  // a conversation end's, else empty
    int64_t bytes = 0;
    std::list<uint64_t>::iterator lru;
  };
  void scan();
  void write_loop();
  void index(uint64_t key, Entry entry);  // under mutex_
  void forget(uint64_t key);              // under mutex_: drops the entry and its file
  std::filesystem::path file_of(uint64_t key) const;
  std::string text_of(const std::vector<int32_t>& tokens) const;

  const DiskCacheOptions options_;
  const StateSpec spec_;
  const StateStorage storage_;
  const tokenizer::Tokenizer& tokenizer_;
  mutable std::mutex mutex_;  // guards everything below
  std::condition_variable changed_;
  std::unordered_map<uint64_t, Entry> entries_;  // by the hash of their tokens
  std::map<int64_t, int64_t> lengths_;           // entries per token count: the prefix lengths worth hashing
  std::list<uint64_t> lru_;                      // most recently used first
  std::deque<CacheRecord> queue_;                // to write
  std::set<uint64_t> queued_;                    // their keys
  bool writing_ = false, stopping_ = false;
  int64_t bytes_ = 0, evictions_ = 0;
  std::thread writer_;
};

}  // namespace baleen::session
