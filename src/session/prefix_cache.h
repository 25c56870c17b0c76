// The session states kept for reuse across turns, in a radix tree over token ids: a state is kept after
// every `granularity()` tokens of each prompt (a resume boundary: a multiple of Config::resume_granularity,
// at least 128 tokens), at each prompt's end and at each conversation's end (the prompt and the tokens fed
// after it). start() forks the deepest state a prompt extends, so a prompt sharing its first N tokens with
// a cached one prefills from ⌊N / granularity⌋ · granularity at the latest (its own turn keeps its
// boundaries in turn), every turn gets a state of its own (entry pages shared by reference) and the entry
// stays. Least recently used states are evicted beyond max_entries or while the backend's state memory
// exceeds max_bytes. A prompt whose *text* extends a conversation end's text is tokenized as that end's
// tokens plus the new tail (text_tokens), so re-sending a sampled turn costs no prefill. With a disk tier
// (session/disk_cache.h) every prompt end and conversation end is also written to disk, and a prompt whose
// deepest prefix is on disk only (after a restart, or evicted from memory) resumes from there. Thread-safe;
// the states are created, forked, imported and exported on the calling thread, which must be the one
// running the model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model.h"
#include "session/disk_cache.h"
#include "tokenizer/tokenizer.h"

namespace baleen::session {

struct CacheLimits {
  size_t max_entries = 4096;  // states kept, >= 1
  int64_t max_bytes = 0;      // evict while Backend::state_memory() exceeds it; 0: no bound
};

// Tokens between the states the cache keeps: the smallest multiple of config.resume_granularity() that is
// at least 128 (V4: 128; baleen-nano, whose lcm is 16: 128).
int64_t cache_granularity(const Config& config);

class PrefixCache {
 public:
  // What a kept state is: a resume boundary inside a prompt (the deepest one apart), a prompt's end, or a
  // conversation's end (whose text text_tokens() matches). All but the shallower boundaries go to the disk
  // tier: exporting a state copies all of it, so a copy at every boundary would cost the engine thread time
  // quadratic in the length; the deepest boundary is what the same prompt resumes from after a restart.
  enum class Kept { kBoundary, kDeepestBoundary, kPromptEnd, kConversationEnd };

  // Borrows both. `disk`: the disk tier's directory, scanned now (Error when it cannot be used).
  PrefixCache(Model& model, const tokenizer::Tokenizer& tokenizer, StateStorage storage, CacheLimits limits,
              const std::optional<DiskCacheOptions>& disk = std::nullopt);
  ~PrefixCache();

  struct Start {
    SessionState state;  // a fork of the deepest cached state the prompt extends, else a new state
    int64_t reused = 0;  // prompt tokens it holds
    // The resume boundaries of the prompt past `reused` (before its last token), ascending: each state
    // there is worth add()ing as the prompt is prefilled.
    std::vector<int64_t> checkpoints;
  };
  // Where `prompt` (at least one token) starts.
  Start start(const std::vector<int32_t>& prompt);
  // Keeps `state`, which holds `tokens`, as the most recently used entry (an entry of the same tokens is
  // only touched).
  void add(const std::vector<int32_t>& tokens, SessionState state, Kept kept);
  // Text tokenized as a prompt: the tokens of the longest conversation end whose text it extends, then the
  // rest encoded.
  std::vector<int32_t> text_tokens(std::string_view text) const;
  void clear();
  // Evicts least recently used states while the backend's state memory exceeds `bytes`; returns whether it
  // fits now.
  bool shrink(int64_t bytes);

  int64_t granularity() const { return granularity_; }
  size_t entries() const;
  int64_t evictions() const;
  const DiskCache* disk() const { return disk_.get(); }

 private:
  struct Node;
  Node& place(const std::vector<int32_t>& tokens);
  void keep(Node& node, SessionState state);
  void evict();
  void drop_state(Node& node);

  Model& model_;
  const tokenizer::Tokenizer& tokenizer_;
  StateStorage storage_;
  CacheLimits limits_;
  int64_t granularity_;
  mutable std::mutex mutex_;
  std::unique_ptr<Node> root_;
  std::list<Node*> lru_;  // the nodes holding a state, most recently used first
  int64_t evictions_ = 0;
  std::unique_ptr<DiskCache> disk_;
};

}  // namespace baleen::session
