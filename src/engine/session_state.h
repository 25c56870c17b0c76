// A session's attention state (DESIGN.md "Session state"), held by a backend: per layer the sliding window
// of raw kv, each compressor's tail (and the CSA overlap), the compressed entries (main + indexer) in
// pages. Storage is exact fp32 or the paper's (FP8/BF16 entries and window, FP4 indexer keys). This is the
// engine's handle: it frees the backend's state when destroyed; fork() gives an independent state that
// resumes exactly and shares the full entry pages. Move-only; not thread-safe.
#pragma once

#include <cstdint>

#include "backend/backend.h"
#include "model/config.h"
#include "model/state_layout.h"

namespace baleen {

// What a session of this config and storage holds (throws Error when paper storage cannot hold it).
StateSpec state_spec(const Config& config, StateStorage storage);

class SessionState {
 public:
  SessionState(Backend& backend, const Config& config, StateStorage storage);
  // Adopts a backend state holding `length` tokens.
  SessionState(Backend& backend, StateId id, StateStorage storage, int64_t length);
  SessionState(SessionState&& other) noexcept;
  SessionState& operator=(SessionState&& other) noexcept;
  ~SessionState();

  StateStorage storage() const { return storage_; }
  StateId id() const { return id_; }
  Backend& backend() const { return *backend_; }
  int64_t length() const { return length_; }  // tokens appended so far
  void advance(int64_t tokens) { length_ += tokens; }
  StateUsage usage() const { return backend_->state_usage(id_); }
  // What model/state_layout.h counts: window rows, compressor tails and overlaps, compressed entries.
  int64_t bytes() const { return usage().bytes; }
  SessionState fork() const;

 private:
  Backend* backend_;
  StateId id_ = -1;
  StateStorage storage_;
  int64_t length_ = 0;
};

}  // namespace baleen
