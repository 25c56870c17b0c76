// Sparse decode attention over V4's stored KV rows (spec "Attention"; FlashMLA's sparse decode with an extra
// pool): each query token attends to rows named by two index lists — its window and its compressed entries
// (every visible HCA entry, or the CSA indexer's picks) — one KV head (K = V) of dim 512, query heads in
// groups of 16, a learned sink per head in the softmax denominator. Rows are read in their stored form, the
// 584-byte row of kv_codec.h (448 e4m3 with ue8m0 scales per 64 + 64 bf16 RoPE), dequantized to bf16 in
// shared memory; q is rounded to bf16, products accumulate in fp32 (bf16 MMAs), softmax in fp32. The key list
// is split over CTAs (online softmax within one) and a second kernel combines the splits with the sinks. The
// inverse RoPE on the output is left to the caller. Device pointers; asynchronous; returns the launch status.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace baleen::cuda {

inline constexpr int64_t kKvDim = 512, kKvRopeDim = 64;
inline constexpr int64_t kKvDataBytes = 576, kKvScaleBytes = 8;  // KvCodec(kFp8Rope, 512, 64)

// Paged rows in KvPageLayout: page p = the page_rows data parts, then their scale parts; row r is slot
// r % page_rows of page r / page_rows.
struct KvPool {
  const uint8_t* pages = nullptr;
  int64_t page_rows = 0;
};

// Per query token t, `count` row indices at rows[t·stride + i]; −1 (or any negative) means no row.
struct KvRowList {
  const int32_t* rows = nullptr;
  int64_t count = 0, stride = 0;
};

struct SparseDecodeArgs {
  const float* q = nullptr;       // [tokens, heads·512]
  int64_t tokens = 0, heads = 0;  // heads a multiple of 16
  KvPool window_pool;
  KvRowList window;
  KvPool extra_pool;
  KvRowList extra;
  const float* sinks = nullptr;  // [heads]
  float scale = 0;               // softmax scale (d^−½)
  float* out = nullptr;          // [tokens, heads·512]
};

size_t sparse_decode_workspace_bytes(const SparseDecodeArgs& args);
cudaError_t sparse_decode_attention(const SparseDecodeArgs& args, void* workspace, size_t workspace_bytes,
                                    cudaStream_t stream);

}  // namespace baleen::cuda
