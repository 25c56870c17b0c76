// The CUDA backend's operations on session state, general over row formats and shapes (any KvCodec, head
// dim, head count, ratio): the counterparts of the CPU backend's window ring, compressor, indexer and
// attention (backend/cpu/), reading stored rows in place and decoding each element as it is used. State
// rows live in KvPageLayout pages named through device arrays of page pointers. Device pointers;
// asynchronous on `stream`; return the launch status.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "backend/cuda/device_codec.h"

namespace baleen::cuda {

// Rows in pages of `page_rows`: row i is slot i % page_rows of pages[i / page_rows] (a device array). A
// window ring is one page of W rows, indexed by position % W.
struct StoredRowsRef {
  DeviceCodec codec;
  const uint8_t* const* pages = nullptr;
  int64_t page_rows = 0;
};

// What one step sequence's queries see (spec "Attention"): ring rows before `start`, the step's own rows
// (chunk row 0 is position start) from there, and the layer's entries.
struct SequenceKeys {
  StoredRowsRef ring;
  int64_t window = 0;
  const float* chunk = nullptr;
  int64_t ld_chunk = 0, start = 0;
  StoredRowsRef entries;
  int64_t entry_count = 0, ratio = 0;  // ratio 0: no entries
};

struct AttentionLaunch {
  const float* q = nullptr;
  int64_t ldq = 0, rows = 0, heads = 0, head_dim = 0;
  const int32_t* row_sequence = nullptr;  // [rows]: index into sequences
  const SequenceKeys* sequences = nullptr;
  const int64_t* positions = nullptr;
  const int32_t* picks = nullptr;  // null: every visible entry; else [rows, pick_cols] (ld_picks)
  int64_t ld_picks = 0, pick_cols = 0;
  const float* sinks = nullptr;
  float scale = 0;
  float* out = nullptr;
  int64_t ldo = 0;
  // A query whose key list is longer than kAttentionSplit keys has it cut into parts of that many, run
  // side by side and combined (flash-decoding), so a decode step's few rows still fill the GPU. The cut
  // depends on the query's own keys alone, so a row's bits do not depend on the rest of its batch.
  // splits: the most parts any row has (the grid's depth).
  int64_t splits = 1;
  float* partials = nullptr;  // attention_partials_floats(...) floats
  // On tensor cores (paper_attention.cu) where paper_attention_fits; its parts are tiles of 64 keys.
  bool tensor_cores = false;
};
inline constexpr int64_t kAttentionSplit = 32;
int64_t attention_partials_floats(int64_t rows, int64_t heads, int64_t head_dim, int64_t splits, bool tensor_cores);
// The grid's depth (the most parts a query has) for queries of at most `most` keys.
int64_t attention_splits(int64_t most, bool tensor_cores);
cudaError_t session_attention(const AttentionLaunch& a, cudaStream_t stream);

// Whether the tensor-core attention takes a step's queries: head dim 512, heads a multiple of 16, and every
// stored row its sequences name (window ring and entries: `keys` on the host) V4's paper row, 448 e4m3
// values with a power-of-two scale per 64 and 64 bf16 RoPE values.
bool paper_attention_fits(const SequenceKeys* keys, int64_t sequences, int64_t heads, int64_t head_dim);
// session_attention's tensor-core kernels (a.tensor_cores): partials for every query, then their combine.
int64_t paper_attention_splits(int64_t most);
cudaError_t paper_attention(const AttentionLaunch& a, cudaStream_t stream);

// Lightning-indexer scores of every row against its sequence's visible keys, then its top k.
struct IndexerLaunch {
  const float* q = nullptr;  // [rows, heads·dim]
  int64_t ldq = 0, rows = 0, heads = 0, dim = 0;
  const float* head_weights = nullptr;  // [rows, heads], already × weight_scale
  int64_t ldw = 0;
  const int32_t* row_sequence = nullptr;
  const SequenceKeys* sequences = nullptr;  // entries and ratio are the indexer's
  DeviceCodec keys;                         // their codec (one for every sequence: the layer's)
  const int64_t* positions = nullptr;
  float scale = 0;
  int64_t most = 0;  // the most keys any sequence holds (score row length)
  int32_t* picks = nullptr;
  int64_t ld_picks = 0, k = 0;
};
// Scratch bytes for `rows` rows of `most` scores each and their counts by top digit.
size_t indexer_scratch_bytes(int64_t rows, int64_t most);
cudaError_t session_indexer(const IndexerLaunch& a, void* scratch, size_t scratch_bytes, cudaStream_t stream);
// Its two launches (for benchmarks): scores [rows, most] (at least 1 row, most ≥ 1) with each row's counts
// by top_digit (top_k_select.cuh; [rows, kIndexerTopDigits] ints, zeroed here first), then the picks.
inline constexpr int kIndexerTopDigits = 2048;
cudaError_t session_indexer_scores(const IndexerLaunch& a, float* scores, int* top_counts, cudaStream_t stream);
cudaError_t session_indexer_select(const IndexerLaunch& a, const float* scores, const int* top_counts,
                                   cudaStream_t stream);
// The scores on integer tensor cores (fp4_indexer_scores.cu), the same bits, where fp4_indexer_fits: FP4
// keys of 128 values, 16 to 64 heads in whole MMA tiles.
bool fp4_indexer_fits(const IndexerLaunch& a);
cudaError_t fp4_indexer_scores(const IndexerLaunch& a, float* scores, int* top_counts, cudaStream_t stream);

// head_weights ← head_weights·scale (the reference scales them before the scores).
cudaError_t scale_rows(const float* in, int64_t ld_in, int64_t rows, int64_t cols, float scale, float* out,
                       int64_t ld_out, cudaStream_t stream);

// Ring rows: kv rows [skip, rows) (row stride ld) into slots (start + r) % window of the ring page.
cudaError_t ring_append(const DeviceCodec& codec, const float* kv, int64_t ld, int64_t rows, int64_t skip,
                        int64_t start, uint8_t* ring, int64_t window, cudaStream_t stream);

// One sequence's compressor step (spec "Compressors"): token row j of (tail ++ chunk) — the tail's rows
// hold their gates with ape already added; chunk row i is at position start + i and gets
// ape[(start + i) % ratio].
struct CompressorLaunch {
  int64_t ratio = 0, dim = 0, width = 0;  // width = dim, or 2·dim with the CSA overlap
  bool overlap = false, has_overlap = false;
  float* tail_kv = nullptr;   // [ratio, width]
  float* tail_gate = nullptr;
  int64_t tail_rows = 0;
  float* overlap_kv = nullptr;  // [ratio, dim]
  float* overlap_gate = nullptr;
  const float* kv = nullptr;
  int64_t ld_kv = 0;
  const float* gate = nullptr;
  int64_t ld_gate = 0, rows = 0, start = 0;
  const float* ape = nullptr;  // [ratio, width]
};
// Windows that close: entries [windows, dim] (pooled, before norm and rope) into `entries`.
cudaError_t compressor_pool(const CompressorLaunch& c, int64_t windows, float* entries, cudaStream_t stream);
// Keeps the last closed window's a-halves (CSA) and the unclosed rows as the new tail; after the pooling.
cudaError_t compressor_keep_tail(const CompressorLaunch& c, int64_t windows, cudaStream_t stream);
// positions[i] = (first + i)·ratio.
cudaError_t entry_positions(int64_t first, int64_t count, int64_t ratio, int64_t* positions, cudaStream_t stream);
// Encodes rows [count, dim] as entries first, first + 1, … of `rows`.
cudaError_t store_rows(const float* rows_in, int64_t count, int64_t dim, StoredRowsRef rows, int64_t first,
                       cudaStream_t stream);

}  // namespace baleen::cuda
