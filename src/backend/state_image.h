// A session's state in host memory, in the one form every backend exports and imports (the state file,
// engine/state_file.h, stores it). Rows are stored rows: each one's KvCodec data part, then its scale part.
#pragma once

#include <cstdint>
#include <vector>

namespace baleen {

struct CompressorImage {
  int64_t tail_rows = 0;
  std::vector<float> tail_kv, tail_gate;        // tail_rows × width (gates include ape)
  std::vector<float> overlap_kv, overlap_gate;  // ratio × dim: the last closed window's a-halves, or empty
  int64_t entries = 0;
  std::vector<uint8_t> rows;  // entries × row_bytes
};

struct LayerImage {
  int64_t window_rows = 0;      // min(length, window)
  std::vector<uint8_t> window;  // those rows, oldest first
  CompressorImage compressor, indexer;
};

struct StateImage {
  int64_t length = 0;  // tokens the state holds
  std::vector<LayerImage> layers;
};

}  // namespace baleen
