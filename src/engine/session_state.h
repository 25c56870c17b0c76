// A session's attention state (DESIGN.md "Session state"), per layer: the sliding window of raw kv (ring
// buffer), each compressor's tail (projected kv/gate of the tokens since the last closed window) and, for
// CSA, the overlap slice of the last closed window, and the compressed entries (main + indexer),
// append-only. Storage is exact fp32 or the paper's (FP8/BF16 entries, FP4 indexer keys). A state is a
// value: copying it (clone) gives an independent snapshot that resumes exactly. Not thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "model/kv_codec.h"
#include "model/config.h"
#include "model/state_layout.h"

namespace baleen {

// Rows of one width in one KvCodec format: append-only, or a ring of fixed capacity.
class KvRows {
 public:
  KvRows() = default;
  KvRows(KvCodec codec, int64_t ring_capacity);  // ring_capacity 0: append-only

  const KvCodec& codec() const { return codec_; }
  int64_t count() const { return count_; }  // rows ever appended
  void append(const float* row);
  // Decodes logical rows [first, first + n) into out (n × dim); ring rows must still be held.
  void decode(int64_t first, int64_t n, float* out) const;
  int64_t bytes() const;

 private:
  KvCodec codec_;
  int64_t ring_ = 0;
  int64_t count_ = 0;
  std::vector<uint8_t> data_;
};

struct CompressorState {
  int64_t ratio = 0;
  int64_t width = 0;                      // projected width per token: dim, or 2·dim with the CSA overlap
  std::vector<float> tail_kv, tail_gate;  // tail_rows × width (gate includes ape)
  int64_t tail_rows = 0;
  std::vector<float> overlap_kv,
      overlap_gate;  // ratio × dim: a-halves of the last closed window; empty before
  KvRows entries;

  int64_t bytes() const;
};

struct LayerState {
  KvRows window;
  CompressorState compressor;  // ratio 0 on sliding-only layers
  CompressorState indexer;     // CSA layers only
};

class SessionState {
 public:
  SessionState(const Config& config, StateStorage storage);

  StateStorage storage() const { return storage_; }
  int64_t length() const { return length_; }  // tokens appended so far
  void advance(int64_t tokens) { length_ += tokens; }
  LayerState& layer(size_t i) { return layers_[i]; }
  const LayerState& layer(size_t i) const { return layers_[i]; }
  size_t layer_count() const { return layers_.size(); }
  // Bytes held: window rows, compressor tails and overlaps, compressed entries.
  int64_t bytes() const;
  SessionState clone() const { return *this; }

 private:
  StateStorage storage_;
  int64_t length_ = 0;
  std::vector<LayerState> layers_;
};

}  // namespace baleen
