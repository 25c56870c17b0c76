// The byte size of one session's compressed KV state after `tokens` tokens, as implied by a config, for
// the two storage modes of spec/model.md ("Norms and precision") and DESIGN.md ("Session state").
// Pure functions of the config; no allocation. Counts the main layers (the MTP block's sliding window
// is a constant 128 entries and is not part of a session's prefix state).
//
// Per layer, with T tokens, W = sliding_window, d = head_dim, r = qk_rope_head_dim, m = the layer's
// compress ratio, di = index_head_dim, and e / ei the bytes of one KV / indexer entry:
//   window      = min(T, W) × e
//   compressed  = floor(T / m) × e                                   (CSA and HCA)
//   indexer     = floor(T / m) × ei                                  (CSA)
//   tail        = (T mod m) × c·2·d × 4                              (projected kv + gate of the open window,
//                                                                     fp32; c = 2 for CSA's two series, 1
//                                                                     HCA)
//               + [T >= m] × m × 2·d × 4                             (CSA overlap: the a-halves of kv + gate
//                                                                     of the last closed window)
//               + CSA indexer: (T mod m) × 4·di × 4 + [T >= m] × m × 2·di × 4
// kFp32:  e = 4·d,  ei = 4·di.
// kPaper: e = (d − r) FP8 e4m3 + 2·r BF16 bytes + ceil((d − r) / 64) ue8m0 scale bytes padded to 4
//         (584 for V4); ei = di / 2 (FP4 e2m1 pairs) + ceil(di / 32) ue8m0 scale bytes padded to 4
//         (model/kv_codec.h).
// Tails stay fp32 in both modes (the reference keeps kv_state / score_state in fp32).
#pragma once

#include <cstdint>
#include <string_view>

#include "model/config.h"

namespace baleen {

enum class StateStorage { kFp32, kPaper };
// "fp32" or "paper"; throws Error naming the value otherwise.
StateStorage parse_state_storage(std::string_view name);

struct LayerStateBytes {
  int64_t window = 0;
  int64_t compressed = 0;
  int64_t indexer = 0;
  int64_t tail = 0;
  int64_t total() const { return window + compressed + indexer + tail; }
};

int64_t kv_entry_bytes(const Config& config, StateStorage storage);
int64_t indexer_entry_bytes(const Config& config, StateStorage storage);
LayerStateBytes layer_state_bytes(const Config& config, const LayerSpec& layer, int64_t tokens,
                                  StateStorage storage);
int64_t session_bytes(const Config& config, int64_t tokens, StateStorage storage);

}  // namespace baleen
