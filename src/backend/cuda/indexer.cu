// Scoring: a CTA of 4 warps scores 256 entries of one token; each warp holds the token's query for all heads
// as e4m3 MMA fragments (FP4 re-encoded exactly, block_scale.cuh) and walks 8 entries at a time: per k32
// block one m16n8k32 MMA per 16 heads, scaled by the two ue8m0 scales; ReLU, head weights and the sum over
// heads (a shuffle across the 8 row groups) give the score. Selection: one CTA per token radix-selects the
// k-th largest score (11 + 11 + 10-bit digits over order-preserving keys), gathers everything above it plus
// the lowest-index entries equal to it, and bitonic-sorts them by (score desc, index asc).
#include <algorithm>
#include <cstdint>

#include "backend/cuda/block_scale.cuh"
#include "backend/cuda/indexer.h"
#include "backend/cuda/mma.cuh"
#include "backend/cuda/top_k_select.cuh"

namespace baleen::cuda {
namespace {

constexpr int kScoreWarps = 4, kEntriesPerWarp = 64;
static_assert(kIndexerMaxTopK == kSelectMaxK);

__device__ __forceinline__ int64_t visible_entries(const IndexerArgs& a, int64_t t) {
  return min(a.entries, (a.positions[t] + 1) / a.ratio);
}

template <int kMTiles>
__global__ void __launch_bounds__(kScoreWarps * 32) score_kernel(IndexerArgs a) {
  const int64_t t = blockIdx.y, visible = visible_entries(a, t);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, tq = lane % 4;
  const int64_t first = (int64_t{blockIdx.x} * kScoreWarps + warp) * kEntriesPerWarp;
  if (first >= visible) return;
  // The query fragments: [m tile][k32 block] and the per-(head, block) scales, weights per head row.
  uint32_t qa[kMTiles][4][4];
  float qs[kMTiles][4][2], wh[kMTiles][2];
#pragma unroll
  for (int mt = 0; mt < kMTiles; ++mt) {
    const int64_t h = t * a.heads + mt * 16 + g;
    const auto* q0 = reinterpret_cast<const uint32_t*>(a.q_data + h * kIndexerDataBytes);
    const auto* q8 = reinterpret_cast<const uint32_t*>(a.q_data + (h + 8) * kIndexerDataBytes);
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const uint32_t w0 = q0[j * 4 + tq], w8 = q8[j * 4 + tq];
      qa[mt][j][0] = e2m1_low_nibbles_to_e4m3(w0);
      qa[mt][j][1] = e2m1_low_nibbles_to_e4m3(w8);
      qa[mt][j][2] = e2m1_high_nibbles_to_e4m3(w0);
      qa[mt][j][3] = e2m1_high_nibbles_to_e4m3(w8);
      qs[mt][j][0] = ue8m0_to_float(a.q_scales[h * kIndexerScaleBytes + j]) * kE2m1AsE4m3Scale;
      qs[mt][j][1] = ue8m0_to_float(a.q_scales[(h + 8) * kIndexerScaleBytes + j]) * kE2m1AsE4m3Scale;
    }
    wh[mt][0] = a.head_weights[h];
    wh[mt][1] = a.head_weights[h + 8];
  }
  const int64_t page_bytes = a.page_rows * (kIndexerDataBytes + kIndexerScaleBytes);
  for (int64_t s0 = first; s0 < min(first + kEntriesPerWarp, visible); s0 += 8) {
    const int64_t s = s0 + g;  // the entry this lane loads (column g of the tile)
    uint32_t kw[4] = {0, 0, 0, 0}, ks = 0;
    if (s < visible) {
      const int64_t page = a.page_table[t * a.page_table_stride + s / a.page_rows], slot = s % a.page_rows;
      const uint8_t* base = a.pages + page * page_bytes;
      const auto* data = reinterpret_cast<const uint32_t*>(base + slot * kIndexerDataBytes);
#pragma unroll
      for (int j = 0; j < 4; ++j) kw[j] = __ldg(data + j * 4 + tq);
      ks = __ldg(reinterpret_cast<const uint32_t*>(base + a.page_rows * kIndexerDataBytes +
                                                   slot * kIndexerScaleBytes));
    }
    // Key scales of the columns this lane's accumulators hold (entries s0+2tq, s0+2tq+1).
    const uint32_t ks0 = __shfl_sync(0xffffffffu, ks, (2 * tq) * 4),
                   ks1 = __shfl_sync(0xffffffffu, ks, (2 * tq + 1) * 4);
    float dot[kMTiles][4] = {};
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const uint32_t b[2] = {e2m1_low_nibbles_to_e4m3(kw[j]), e2m1_high_nibbles_to_e4m3(kw[j])};
      const float k0 = ue8m0_to_float((ks0 >> (8 * j)) & 0xFF) * kE2m1AsE4m3Scale;
      const float k1 = ue8m0_to_float((ks1 >> (8 * j)) & 0xFF) * kE2m1AsE4m3Scale;
#pragma unroll
      for (int mt = 0; mt < kMTiles; ++mt) {
        float c[4] = {};
        mma_e4m3_16x8x32(c, qa[mt][j], b);
        dot[mt][0] += c[0] * (qs[mt][j][0] * k0);
        dot[mt][1] += c[1] * (qs[mt][j][0] * k1);
        dot[mt][2] += c[2] * (qs[mt][j][1] * k0);
        dot[mt][3] += c[3] * (qs[mt][j][1] * k1);
      }
    }
    float s_even = 0, s_odd = 0;
#pragma unroll
    for (int mt = 0; mt < kMTiles; ++mt) {
      s_even += wh[mt][0] * fmaxf(dot[mt][0], 0.0f) + wh[mt][1] * fmaxf(dot[mt][2], 0.0f);
      s_odd += wh[mt][0] * fmaxf(dot[mt][1], 0.0f) + wh[mt][1] * fmaxf(dot[mt][3], 0.0f);
    }
    for (int o = 4; o < 32; o *= 2) {
      s_even += __shfl_xor_sync(0xffffffffu, s_even, o);
      s_odd += __shfl_xor_sync(0xffffffffu, s_odd, o);
    }
    if (g == 0) {
      const int64_t e = s0 + 2 * tq;
      if (e < visible) a.scores[t * a.entries + e] = s_even * a.scale;
      if (e + 1 < visible) a.scores[t * a.entries + e + 1] = s_odd * a.scale;
    }
  }
}

__global__ void __launch_bounds__(kSelectThreads) select_kernel(IndexerArgs a) {
  __shared__ SelectSmem sm;
  const int64_t t = blockIdx.x;
  select_top_k_row(a.scores + t * a.entries, visible_entries(a, t), a.k, a.picks + t * a.k, sm);
}

template <int kMTiles>
cudaError_t launch_scores(const IndexerArgs& a, cudaStream_t stream) {
  const int64_t per_cta = kScoreWarps * kEntriesPerWarp;
  const dim3 grid(static_cast<unsigned>(std::max<int64_t>(1, (a.entries + per_cta - 1) / per_cta)),
                  static_cast<unsigned>(a.tokens));
  score_kernel<kMTiles><<<grid, kScoreWarps * 32, 0, stream>>>(a);
  return cudaGetLastError();
}

}  // namespace

cudaError_t indexer_top_k(const IndexerArgs& a, cudaStream_t stream) {
  if (a.tokens < 1 || a.heads < 16 || a.heads > 64 || a.heads % 16 != 0 || a.k < 1 || a.k > kIndexerMaxTopK ||
      a.ratio < 1 || a.page_rows < 1 || a.entries < 0)
    return cudaErrorInvalidValue;
  cudaError_t e = cudaSuccess;
  if (a.entries > 0) {
    switch (a.heads / 16) {
      case 1:
        e = launch_scores<1>(a, stream);
        break;
      case 2:
        e = launch_scores<2>(a, stream);
        break;
      case 3:
        e = launch_scores<3>(a, stream);
        break;
      default:
        e = launch_scores<4>(a, stream);
        break;
    }
  }
  if (e != cudaSuccess) return e;
  select_kernel<<<static_cast<unsigned>(a.tokens), kSelectThreads, 0, stream>>>(a);
  return cudaGetLastError();
}

}  // namespace baleen::cuda
