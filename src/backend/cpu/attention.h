// Attention with sinks over a window plus compressed or picked entries (spec "Attention"): per query and
// head, p = softmax([q·k·scale …, sink]) without the sink's share, out = Σ p·k (K = V). The fast kernel
// uses an online softmax over a query range × head range, rescaled once per tile of 8 keys; tiles are
// fixed by where the keys come from (window positions, entries, picks: attention.cc), whatever their
// storage, so stored keys decoded on the fly give the bits of the same keys held as fp32 rows, and the
// query rows of a sequence share each decoded tile. The truth is two-pass float64.
#pragma once

#include "backend/backend.h"
#include "backend/cpu/state_store.h"

namespace baleen::cpu {

// Keys held as fp32 rows (kernel tests, the truth): raw kv rows of consecutive positions window_start, …;
// compressed entries (entry w summarises tokens w·m … w·m+m−1; ratio 0: none); per query, picks into
// `compressed` (−1: none; rows 0: every entry w < (p+1) div m).
struct AttentionKeys {
  MatrixView<const float> window;
  int64_t window_start = 0;
  int64_t window_size = 0;  // W
  MatrixView<const float> compressed;
  int64_t ratio = 0;
  MatrixView<const int32_t> picks;
};

// One sequence's keys as a session stores them: its window ring for positions before `start`, the step's
// own rows from `start` on (chunk row 0 is position start), the layer's entry pages.
struct StoredKeys {
  const RingRows* ring = nullptr;
  MatrixView<const float> chunk;
  int64_t start = 0;
  int64_t window_size = 0;
  const PagedRows* entries = nullptr;  // null: no compressed entries
  int64_t ratio = 0;
  MatrixView<const int32_t> picks;  // indexed by the query's row in the step
};

template <typename Keys>
void attention_rows(MatrixView<const float> q, int64_t heads, const Keys& keys, const int64_t* positions,
                    const float* sinks, float scale, MatrixView<float> out, int64_t t_begin, int64_t t_end,
                    int64_t h_begin, int64_t h_end);
void attention_reference(MatrixView<const float> q, int64_t heads, const AttentionKeys& keys,
                         const int64_t* positions, const float* sinks, float scale, MatrixView<float> out);

// A stored row as fp32: a view of the stored values (kF32) or decoded into `scratch` (dim floats).
inline const float* read_row(const KvCodec& codec, const uint8_t* data, const uint8_t* scales, float* scratch) {
  if (codec.format() == KvFormat::kF32) return reinterpret_cast<const float*>(data);
  codec.decode(data, scales, scratch);
  return scratch;
}

inline constexpr int64_t kMaxKeyDim = 1024;

}  // namespace baleen::cpu
