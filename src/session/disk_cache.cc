#include "session/disk_cache.h"

#include <algorithm>
#include <chrono>

#include "core/durable_file.h"
#include "core/error.h"
#include "core/log.h"

namespace baleen::session {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kEntrySuffix = ".entry";
// Exported states waiting for the writer at most: beyond them an entry is not written (the cache in memory
// still has it), so a disk slower than the engine costs disk hits, never memory without bound.
constexpr size_t kMaxQueued = 64;

// FNV-1a over the ids' bytes, extended one id at a time so that every prefix of a prompt is hashed in
// one pass.
constexpr uint64_t kHashStart = 0xcbf29ce484222325ull;
uint64_t extend_hash(uint64_t h, int32_t id) {
  const auto u = static_cast<uint32_t>(id);
  for (int i = 0; i < 4; ++i) h = (h ^ ((u >> (8 * i)) & 0xff)) * 0x100000001b3ull;
  return h;
}

uint64_t hash_of(const std::vector<int32_t>& tokens) {
  uint64_t h = kHashStart;
  for (const int32_t id : tokens) h = extend_hash(h, id);
  return h;
}

}  // namespace

DiskCache::DiskCache(DiskCacheOptions options, StateSpec spec, StateStorage storage,
                     const tokenizer::Tokenizer& tokenizer)
    : options_(std::move(options)), spec_(std::move(spec)), storage_(storage), tokenizer_(tokenizer) {
  check(options_.max_bytes >= 0, "--cache-disk must be >= 0, got {}", options_.max_bytes);
  std::error_code ec;
  fs::create_directories(options_.dir, ec);
  check(!ec && fs::is_directory(options_.dir), "state dir {}: cannot create: {}", options_.dir.string(),
        ec.message());
  scan();
  writer_ = std::thread([this] { write_loop(); });
}

DiskCache::~DiskCache() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  writer_.join();
}

fs::path DiskCache::file_of(uint64_t key) const {
  return options_.dir / fmt::format("{:016x}{}", key, kEntrySuffix);
}

std::string DiskCache::text_of(const std::vector<int32_t>& tokens) const {
  std::string text;
  for (const int32_t id : tokens) text += tokenizer_.token_bytes(static_cast<uint32_t>(id));
  return text;
}

// Every entry file is verified in full; the ones that pass are indexed, most recently used (written or
// hit: the file's mtime) first. A file that fails is reported and left alone: it may be another model's.
void DiskCache::scan() {
  struct Found {
    fs::file_time_type used;
    uint64_t key;
    Entry entry;
  };
  std::vector<Found> found;
  int64_t skipped = 0;
  for (const fs::directory_entry& f : fs::directory_iterator(options_.dir)) {
    const std::string name = f.path().filename().string();
    if (name.ends_with(kTemporarySuffix)) {  // a write that a kill cut short: never indexed
      std::error_code ec;
      fs::remove(f.path(), ec);
      log::info("state dir: removed the unfinished write {}", f.path().string());
      continue;
    }
    if (!name.ends_with(kEntrySuffix) || !f.is_regular_file()) continue;
    try {
      const std::string bytes = read_file(f.path());
      CacheRecord record = decode_cache_record(bytes, spec_, storage_, options_.model, f.path().string());
      const uint64_t key = hash_of(record.tokens);
      check(f.path().filename() == file_of(key).filename(), "cache record {}: its token ids hash to {}",
            f.path().string(), file_of(key).filename().string());
      std::string text = record.conversation_end ? text_of(record.tokens) : std::string();
      found.push_back({f.last_write_time(),
                       key,
                       {std::move(record.tokens), std::move(text), static_cast<int64_t>(bytes.size()), {}}});
    } catch (const Error& e) {
      log::warn("state dir: skipped: {}", e.what());
      ++skipped;
    }
  }
  std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) { return a.used < b.used; });
  std::lock_guard lock(mutex_);
  for (Found& f : found) index(f.key, std::move(f.entry));
  log::info("state dir {}: {} cache entries ({} bytes) loaded, {} files skipped", options_.dir.string(),
            entries_.size(), bytes_, skipped);
}

void DiskCache::put(CacheRecord record) {
  check(!record.tokens.empty(), "disk cache: an entry of no tokens");
  const uint64_t key = hash_of(record.tokens);
  {
    std::lock_guard lock(mutex_);
    if (queued_.contains(key)) return;
    if (const auto it = entries_.find(key); it != entries_.end() && it->second.tokens == record.tokens)
      return;
    if (queue_.size() >= kMaxQueued) {
      log::warn("state dir: {} entries wait for the disk; one of {} tokens is not written", queue_.size(),
                record.tokens.size());
      return;
    }
    queued_.insert(key);
    queue_.push_back(std::move(record));
  }
  changed_.notify_all();
}

void DiskCache::write_loop() {
  std::unique_lock lock(mutex_);
  while (true) {
    changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything queued is written
    CacheRecord record = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    lock.unlock();
    const uint64_t key = hash_of(record.tokens);
    std::optional<Entry> entry;
    try {
      const std::string bytes = encode_cache_record(record, spec_, storage_, options_.model);
      write_file_durably(file_of(key), bytes);
      std::string text = record.conversation_end ? text_of(record.tokens) : std::string();
      entry = Entry{std::move(record.tokens), std::move(text), static_cast<int64_t>(bytes.size()), {}};
    } catch (const Error& e) {
      log::warn("state dir: an entry was not written: {}", e.what());
    }
    lock.lock();
    queued_.erase(key);
    if (entry) index(key, std::move(*entry));  // only now, on disk, is it found
    writing_ = false;
    changed_.notify_all();
  }
}

void DiskCache::index(uint64_t key, Entry entry) {
  if (entries_.contains(key)) {  // a hash collision: the file now holds the newer entry
    bytes_ -= entries_[key].bytes;
    lengths_[static_cast<int64_t>(entries_[key].tokens.size())]--;
    lru_.erase(entries_[key].lru);
    entries_.erase(key);
  }
  lru_.push_front(key);
  entry.lru = lru_.begin();
  bytes_ += entry.bytes;
  ++lengths_[static_cast<int64_t>(entry.tokens.size())];
  entries_.emplace(key, std::move(entry));
  while (options_.max_bytes > 0 && bytes_ > options_.max_bytes && !lru_.empty()) {
    forget(lru_.back());
    ++evictions_;
  }
}

void DiskCache::forget(uint64_t key) {
  const auto it = entries_.find(key);
  if (it == entries_.end()) return;
  const auto length = static_cast<int64_t>(it->second.tokens.size());
  if (--lengths_[length] == 0) lengths_.erase(length);
  bytes_ -= it->second.bytes;
  lru_.erase(it->second.lru);
  entries_.erase(it);
  std::error_code ec;
  fs::remove(file_of(key), ec);
}

bool DiskCache::holds(const std::vector<int32_t>& tokens) const {
  const uint64_t key = hash_of(tokens);
  std::lock_guard lock(mutex_);
  if (queued_.contains(key)) return true;
  const auto it = entries_.find(key);
  return it != entries_.end() && it->second.tokens == tokens;
}

std::optional<CacheRecord> DiskCache::longest(const std::vector<int32_t>& prompt, int64_t longer_than) {
  const auto n = static_cast<int64_t>(prompt.size());
  std::vector<uint64_t> candidates;  // shortest first
  {
    std::lock_guard lock(mutex_);
    uint64_t h = kHashStart;
    int64_t hashed = 0;
    for (auto it = lengths_.upper_bound(longer_than); it != lengths_.end() && it->first < n; ++it) {
      for (; hashed < it->first; ++hashed) h = extend_hash(h, prompt[static_cast<size_t>(hashed)]);
      const auto e = entries_.find(h);
      if (e != entries_.end() && static_cast<int64_t>(e->second.tokens.size()) == hashed &&
          std::equal(e->second.tokens.begin(), e->second.tokens.end(), prompt.begin()))
        candidates.push_back(h);
    }
  }
  for (auto key = candidates.rbegin(); key != candidates.rend(); ++key) {
    const fs::path file = file_of(*key);
    try {
      CacheRecord record =
          decode_cache_record(read_file(file), spec_, storage_, options_.model, file.string());
      check(record.tokens.size() <= prompt.size() &&
                std::equal(record.tokens.begin(), record.tokens.end(), prompt.begin()),
            "cache record {}: holds other tokens than it was indexed with", file.string());
      std::error_code ec;
      fs::last_write_time(file, fs::file_time_type::clock::now(), ec);  // its LRU place survives a restart
      std::lock_guard lock(mutex_);
      if (const auto e = entries_.find(*key); e != entries_.end())
        lru_.splice(lru_.begin(), lru_, e->second.lru);
      return record;
    } catch (const Error& e) {
      // Evicted since (gone), or changed on disk since it was verified: either way not used.
      log::warn("state dir: a cache hit was not used: {}", e.what());
      std::lock_guard lock(mutex_);
      forget(*key);
    }
  }
  return std::nullopt;
}

std::pair<std::vector<int32_t>, size_t> DiskCache::longest_text(std::string_view text) const {
  std::lock_guard lock(mutex_);
  const Entry* best = nullptr;
  for (const auto& [key, e] : entries_)
    if (!e.text.empty() && text.size() > e.text.size() && text.starts_with(e.text) &&
        (!best || e.text.size() > best->text.size()))
      best = &e;
  if (!best) return {};
  return {best->tokens, best->text.size()};
}

void DiskCache::flush() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return queue_.empty() && !writing_; });
}

int64_t DiskCache::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

size_t DiskCache::entries() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

int64_t DiskCache::evictions() const {
  std::lock_guard lock(mutex_);
  return evictions_;
}

}  // namespace baleen::session
