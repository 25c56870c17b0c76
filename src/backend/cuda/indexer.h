// Lightning indexer for decode (spec "Lightning indexer"): score(t, s) = scale·Σ_h w[t,h]·ReLU(q[t,h]·k_s)
// over the entries visible at position p_t (s < min(entries, (p_t+1) div ratio)), then the k highest
// (ties: lower index first; −1 beyond what is visible), sorted by descending score as the CPU backend
// returns them. q and keys are the stored forms: Hadamard-rotated FP4 e2m1 with ue8m0 scales per 32
// (KvCodec kFp4, di = 128: 64 data bytes and 4 scale bytes a row); products run on e4m3 MMAs (exact) with
// fp32 sums. The scores go to a scratch row per token, then one CTA per token radix-selects the top k.
// Device pointers; asynchronous; returns the launch status.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace baleen::cuda {

inline constexpr int64_t kIndexerDim = 128;
inline constexpr int64_t kIndexerDataBytes = 64, kIndexerScaleBytes = 4;
inline constexpr int64_t kIndexerMaxTopK = 1024;

struct IndexerArgs {
  const uint8_t* q_data = nullptr;      // [tokens, heads, 64]
  const uint8_t* q_scales = nullptr;    // [tokens, heads, 4]
  const float* head_weights = nullptr;  // [tokens, heads]
  int64_t tokens = 0, heads = 0;        // heads a multiple of 16, at most 64
  // Keys: entry s of token t is slot s % page_rows of page page_table[t·page_table_stride + s / page_rows]
  // in pages laid out as KvPageLayout (page_rows data parts, then their scale parts).
  const uint8_t* pages = nullptr;
  int64_t page_rows = 0;
  const int32_t* page_table = nullptr;
  int64_t page_table_stride = 0;
  int64_t entries = 0;                 // N
  const int64_t* positions = nullptr;  // [tokens]
  int64_t ratio = 0;
  float scale = 0;
  int64_t k = 0;             // ≤ 1024
  float* scores = nullptr;   // [tokens, entries] scratch (the visible prefix is written)
  int32_t* picks = nullptr;  // [tokens, k]
};

cudaError_t indexer_top_k(const IndexerArgs& args, cudaStream_t stream);

}  // namespace baleen::cuda
