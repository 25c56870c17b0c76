// The session states kept for reuse across turns: each entry is the state after a token prefix — a
// conversation's end (the prompt and the tokens fed after it), a prompt's end, or a resume boundary
// (Config::resume_granularity) that several prompts share. start() forks the longest entry a prompt
// extends, so every turn gets a state of its own (pages shared by reference) and the entry stays; it also
// names the boundary worth saving when a recent prompt shares it. Least recently used entries go first
// beyond max_entries. A prompt whose *text* extends a conversation end's text is tokenized as that end's
// tokens plus the new tail (text_tokens), so re-sending a sampled turn costs no prefill. Thread-safe; the
// states are created, forked and destroyed on the calling thread, which must be the one running the model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model.h"
#include "tokenizer/tokenizer.h"

namespace baleen::session {

class PrefixCache {
 public:
  // Borrows both; `max_entries` >= 1.
  PrefixCache(Model& model, const tokenizer::Tokenizer& tokenizer, StateStorage storage, size_t max_entries);

  struct Start {
    SessionState state;      // a fork of the longest cached prefix of the prompt, else a new state
    int64_t reused = 0;      // prompt tokens it holds
    int64_t checkpoint = 0;  // > reused: save the state at this length (add()); 0: none
  };
  // Where `prompt` (at least one token) starts; remembers it as a recent prompt.
  Start start(const std::vector<int32_t>& prompt);
  // Keeps `state`, which holds `tokens`, as the most recently used entry (an entry of the same tokens is
  // only touched). `conversation_end`: its text is matched by text_tokens().
  void add(std::vector<int32_t> tokens, SessionState state, bool conversation_end);
  // Text tokenized as a prompt: the tokens of the longest conversation end whose text it extends, then the
  // rest encoded.
  std::vector<int32_t> text_tokens(std::string_view text) const;
  void clear();

  size_t entries() const;
  int64_t cached_tokens() const;  // summed over the entries

 private:
  struct Entry {
    std::vector<int32_t> tokens;
    SessionState state;
    std::string text;  // of the tokens, for a conversation end; else empty
  };

  Model& model_;
  const tokenizer::Tokenizer& tokenizer_;
  StateStorage storage_;
  size_t max_entries_;
  mutable std::mutex mutex_;
  std::list<Entry> entries_;                // most recently used first
  std::list<std::vector<int32_t>> recent_;  // prompts, newest first
};

}  // namespace baleen::session
