// The lightning indexer's scores over FP4 keys on integer tensor cores, bit for bit what the CPU backend
// computes (backend/cpu/indexer.cc: per head the fp32 dot in dot.h's order, then acc += w_h·ReLU(dot) over
// heads ascending, then acc·scale) and what session_kernels.cu's kernel computes on the CUDA cores.
//
// Why integers give the CPU's bits: an FP4 key value is n·2^e, n = 2·(its e2m1 code) ∈ [−12, 12] and e its
// block's ue8m0 exponent − 128; a key whose four block exponents lie within 3 of the least, e_k, is 128 int8
// n' = n·2^(e − e_k) (|n'| ≤ 96) at the one unit 2^e_k. In paper storage the engine FP4-round-trips the
// queries too, so a head's 128 values are, at the unit 2^u_h of its finest value's lowest set bit, int8 n'
// where its blocks' scales lie close. The dot is then S·2^(u_h + e_k), S an exact int32 from four m16n8k32
// s8 MMAs. Every partial sum of the CPU's fp32 products is a multiple of 2^(u_h + e_k) below
// 128·127·96 < 2^24 of them, so when that unit is no finer than fp32's 2^−149 each of the CPU's additions
// is exact whatever its order, and its dot is this value. A head or key off one int8 grid takes the CPU's
// order on the CUDA cores for its (head, key) pairs instead.
//
// A CTA of 8 warps takes one query row and 8 runs of `warp_entries` keys; it first puts the row's heads
// on their grids in shared memory (a warp a head at a time). A warp walks its keys 8 at a time (the next 8
// loaded while these are multiplied): per 16 heads four MMAs; the dots' ReLUs go to shared memory and lane
// j sums key j's heads in order. The CTA counts its scores by top digit for the selection's first pass.
#include <algorithm>
#include <climits>

#include "backend/cuda/block_scale.cuh"
#include "backend/cuda/cpu_order_dot.cuh"
#include "backend/cuda/kv_codec.cuh"
#include "backend/cuda/mma.cuh"
#include "backend/cuda/session_kernels.h"
#include "backend/cuda/session_rows.cuh"
#include "backend/cuda/top_k_select.cuh"

namespace baleen::cuda {
namespace {

constexpr int kWarps = 8, kThreads = kWarps * 32, kDim = 128, kBlocks = kDim / 32, kMaxHeads = 64;
constexpr int kFp4 = static_cast<int>(KvFormat::kFp4);

struct QueryHead {
  int unit;  // the head's values are n·2^unit
  int ok;    // every n fits int8
};

constexpr int kQueryWords = kBlocks * 4 + 4;  // uint2s a head: 4 of padding put a warp's fragment loads
                                             // of 8 heads × 4 t on distinct banks (two wavefronts)
struct Smem {
  // [head][4·block + t]: the int8 n of elements 8t + 2r (x, byte r) and 8t + 2r + 1 (y) of the block: the
  // order in which a word of FP4 codes holds them, so a query fragment pairs with a key word's nibbles.
  uint2 q[kMaxHeads][kQueryWords];
  QueryHead heads[kMaxHeads];
  float w[kMaxHeads];
  float relu[kWarps][8][kMaxHeads + 1];  // a warp's 8 keys' ReLU(dot), by head
  int top_counts[kTopDigits];            // the CTA's scores by top digit, then added to the row's
};

__device__ inline int warp_min(int v) {
  for (int o = 16; o > 0; o /= 2) v = min(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// |v| = odd·2^low (odd 0 for a zero); false where v is not finite.
__device__ inline bool split_value(float v, uint32_t& odd, int& low) {
  odd = 0, low = INT_MAX;
  if (!isfinite(v)) return false;
  if (v == 0.0f) return true;
  int e = 0;
  const float f = frexpf(fabsf(v), &e);                   // |v| = f·2^e, f in [0.5, 1)
  const auto mant = static_cast<uint32_t>(f * 0x1p24f);  // f·2^24, an exact integer
  const int tz = __ffs(static_cast<int>(mant)) - 1;
  odd = mant >> tz, low = e - 24 + tz;
  return ldexpf(static_cast<float>(odd), low) == fabsf(v);
}

// A warp puts one head's 128 values (lane l holds element 32b + l in v[b]) on its int8 grid: the unit is
// the finest value's lowest set bit; the head is off the grid if a value is not finite or needs more than
// 7 bits there.
__device__ inline void prepare_head(const float (&v)[kBlocks], int lane, uint2* codes, QueryHead& out) {
  uint32_t odd[kBlocks];
  int low[kBlocks], least = INT_MAX;
  bool ok = true;
#pragma unroll
  for (int b = 0; b < kBlocks; ++b) ok = split_value(v[b], odd[b], low[b]) && ok, least = min(least, low[b]);
  const int unit = warp_min(least);
#pragma unroll
  for (int b = 0; b < kBlocks; ++b) {
    int n = 0;
    if (odd[b] != 0) {
      const int shift = low[b] - unit;
      n = shift < 7 && (odd[b] << shift) <= 127u ? static_cast<int>(odd[b] << shift) : 0;
      ok = ok && n != 0;
    }
    reinterpret_cast<int8_t*>(codes + 4 * b)[(lane / 8) * 8 + (lane % 2) * 4 + (lane % 8) / 2] =
        static_cast<int8_t>(v[b] < 0.0f ? -n : n);
  }
  ok = __all_sync(0xffffffffu, ok);
  if (lane == 0) out = {unit == INT_MAX ? 0 : unit, ok};
}

// Four e2m1 codes (the low nibble of each byte) as four int8 n·2^shift, n = 2·value (shift ≤ 3: |n| ≤ 96).
__device__ __forceinline__ uint32_t e2m1_to_s8(uint32_t nibbles, int shift) {
  const uint32_t idx = nibbles & 0x07070707u, s = idx | (idx >> 4);
  const uint32_t sel = (s & 0xFFu) | ((s >> 8) & 0xFF00u);
  const uint32_t mag = __byte_perm(0x03020100u, 0x0C080604u, sel) << shift;  // 0 1 2 3 4 6 8 12, shifted
  const uint32_t sign = ((nibbles >> 3) & 0x01010101u) * 0xFFu;
  return (mag & ~sign) | (__vsub4(0u, mag) & sign);
}

// n·2^m as fp32, exactly (|n| < 2^24, −149 ≤ m ≤ 100).
__device__ __forceinline__ float exact_float(int n, int m) {
  const auto f = static_cast<float>(n);
  if (m >= -126) return f * __int_as_float((m + 127) << 23);
  return f * __int_as_float((m + 64 + 127) << 23) * 0x1p-64f;
}

// A stored key decoded element by element (the CPU-order fallback).
struct StoredKey {
  DeviceCodec codec;
  const uint8_t *data, *scales;
  __device__ float one(int, int i) const { return decode_element(codec, data, scales, i); }
  __device__ float4 quad(int j, int i) const { return make_float4(one(j, i), one(j, i + 1), one(j, i + 2), one(j, i + 3)); }
};

template <int kMTiles>
__global__ void __launch_bounds__(kThreads) fp4_scores_kernel(IndexerLaunch a, int64_t warp_entries,
                                                              float* scores, int* top_counts) {
  __shared__ Smem sm;
  const int64_t t = blockIdx.y;
  const SequenceKeys& s = a.sequences[a.row_sequence[t]];
  const int64_t visible = visible_entries(s, a.positions[t]);
  const int64_t cta_first = int64_t{blockIdx.x} * kWarps * warp_entries;
  if (cta_first >= visible) return;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, tq = lane % 4;
  constexpr int heads = kMTiles * 16;
  const float* q = a.q + t * a.ldq;
  constexpr int kWarpHeads = heads / kWarps;  // 2 to 8
  float v[kWarpHeads][kBlocks];  // every load issued before any is used: one latency for the prologue
#pragma unroll
  for (int i = 0; i < kWarpHeads; ++i) {
#pragma unroll
    for (int b = 0; b < kBlocks; ++b) v[i][b] = q[(warp + i * kWarps) * kDim + b * 32 + lane];
  }
#pragma unroll
  for (int i = 0; i < kWarpHeads; ++i) {
    const int h = warp + i * kWarps;
    prepare_head(v[i], lane, sm.q[h], sm.heads[h]);
  }
  for (int h = threadIdx.x; h < heads; h += kThreads) sm.w[h] = a.head_weights[t * a.ldw + h];
  for (int i = threadIdx.x; i < kTopDigits; i += kThreads) sm.top_counts[i] = 0;
  __syncthreads();

  const int64_t first = cta_first + warp * warp_entries, end = min(first + warp_entries, visible);
  float(*relu)[kMaxHeads + 1] = sm.relu[warp];
  uint32_t kw[4], ks;  // lane's key s0 + g: its words 4j + tq and its 4 scale bytes
  const auto load = [&](int64_t s0) {
    const int64_t e = s0 + g;
    kw[0] = kw[1] = kw[2] = kw[3] = ks = 0;
    if (e < end) {
      const auto* data = reinterpret_cast<const uint32_t*>(stored_data(s.entries, e));
#pragma unroll
      for (int j = 0; j < 4; ++j) kw[j] = __ldg(data + j * 4 + tq);
      ks = __ldg(reinterpret_cast<const uint32_t*>(stored_scales(s.entries, e)));
    }
  };
  if (first < end) load(first);
  for (int64_t s0 = first; s0 < end; s0 += 8) {
    // This lane's key (s0 + g): its unit e_k + 128 (the least block exponent) and the blocks' shifts to it;
    // −1 where they lie more than 3 apart.
    const int e0 = ks & 0xFF, e1 = (ks >> 8) & 0xFF, e2 = (ks >> 16) & 0xFF, e3 = ks >> 24;
    const int least = min(min(e0, e1), min(e2, e3)), most = max(max(e0, e1), max(e2, e3));
    const int key_unit = most - least <= 3 ? least : -1;
    uint32_t bk[kBlocks][2];  // the 8 keys' fragments, per block
#pragma unroll
    for (int j = 0; j < kBlocks; ++j) {
      const int shift = key_unit < 0 ? 0 : static_cast<int>((ks >> (8 * j)) & 0xFF) - least;
      bk[j][0] = e2m1_to_s8(kw[j] & 0x0F0F0F0Fu, shift), bk[j][1] = e2m1_to_s8((kw[j] >> 4) & 0x0F0F0F0Fu, shift);
    }
    // The units of this lane's accumulator columns: keys s0 + 2tq and s0 + 2tq + 1.
    const int col_unit[2] = {__shfl_sync(0xffffffffu, key_unit, 8 * tq), __shfl_sync(0xffffffffu, key_unit, 8 * tq + 4)};
    if (s0 + 8 < end) load(s0 + 8);
    uint32_t inexact = 0;  // bit 4·mt + c: pair (mt, c) takes the CPU's order
#pragma unroll
    for (int mt = 0; mt < kMTiles; ++mt) {
      // Pair c: head mt·16 + g + 8·(c / 2), key s0 + 2tq + c % 2, as the MMA's accumulators hold them.
      int dot[4] = {0, 0, 0, 0};
#pragma unroll
      for (int j = 0; j < kBlocks; ++j) {
        const uint2 lo = sm.q[mt * 16 + g][4 * j + tq], hi = sm.q[mt * 16 + g + 8][4 * j + tq];
        const uint32_t qa[4] = {lo.x, hi.x, lo.y, hi.y};
        mma_s8_16x8x32(dot, qa, bk[j]);
      }
      const QueryHead qh[2] = {sm.heads[mt * 16 + g], sm.heads[mt * 16 + g + 8]};
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        const int m = qh[c / 2].unit + col_unit[c % 2] - 128;
        if (!qh[c / 2].ok || col_unit[c % 2] < 0 || m < -149 || m > 100) {
          inexact |= 1u << (4 * mt + c);
          continue;
        }
        const float d = dot[c] == 0 ? 0.0f : exact_float(dot[c], m);
        relu[2 * tq + c % 2][mt * 16 + g + 8 * (c / 2)] = d < 0.0f ? 0.0f : d;
      }
    }
    // The pairs past the bounds: the CPU's order on the CUDA cores (one call site, off the unrolled path).
    while (inexact != 0) {
      const int p = __ffs(static_cast<int>(inexact)) - 1, c = p % 4;
      inexact &= inexact - 1;
      const int h = p / 4 * 16 + g + 8 * (c / 2), key = 2 * tq + c % 2;
      float d = 0.0f;
      if (s0 + key < end) {
        const float* qh = q + h * kDim;
        const StoredKey k{s.entries.codec, stored_data(s.entries, s0 + key), stored_scales(s.entries, s0 + key)};
        cpu_order_dots<1>([&](int i) { return qh[i]; }, k, kDim, &d);
      }
      relu[key][h] = d < 0.0f ? 0.0f : d;  // std::max(dot, 0.0f): −0 and NaN pass
    }
    __syncwarp();
    if (lane < 8 && s0 + lane < end) {
      float acc = 0.0f;
#pragma unroll 16
      for (int h = 0; h < heads; ++h) acc = fmaf(sm.w[h], relu[lane][h], acc);
      const float score = acc * a.scale + 0.0f;  // + 0: a −0 score ties +0, as on the CPU
      scores[t * a.most + s0 + lane] = score;
      atomicAdd(&sm.top_counts[top_digit(score)], 1);
    }
    __syncwarp();
  }
  __syncthreads();
  for (int i = threadIdx.x; i < kTopDigits; i += kThreads) {
    if (sm.top_counts[i] != 0) atomicAdd(&top_counts[t * kTopDigits + i], sm.top_counts[i]);
  }
}

template <int kMTiles>
cudaError_t launch(const IndexerLaunch& a, float* scores, int* top_counts, cudaStream_t stream) {
  static const int sms = [] {
    int device = 0, n = 0;
    cudaGetDevice(&device);
    cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, device);
    return n > 0 ? n : 1;
  }();
  // As few keys a warp as still give about two CTAs an SM, from 8 to 64.
  const int64_t per_warp = (a.most + 2 * sms * kWarps - 1) / (2 * sms * kWarps);
  const int64_t warp_entries = std::min<int64_t>(64, std::max<int64_t>(8, (per_warp + 7) / 8 * 8));
  const int64_t per_cta = kWarps * warp_entries;
  const dim3 grid(static_cast<unsigned>((a.most + per_cta - 1) / per_cta), static_cast<unsigned>(a.rows));
  fp4_scores_kernel<kMTiles><<<grid, kThreads, 0, stream>>>(a, warp_entries, scores, top_counts);
  return cudaGetLastError();
}

}  // namespace

bool fp4_indexer_fits(const IndexerLaunch& a) {
  return a.keys.format == kFp4 && a.dim == kDim && a.heads % 16 == 0 && a.heads >= 16 && a.heads <= kMaxHeads;
}

cudaError_t fp4_indexer_scores(const IndexerLaunch& a, float* scores, int* top_counts, cudaStream_t stream) {
  if (!fp4_indexer_fits(a)) return cudaErrorInvalidValue;
  switch (a.heads / 16) {
    case 1:
      return launch<1>(a, scores, top_counts, stream);
    case 2:
      return launch<2>(a, scores, top_counts, stream);
    case 3:
      return launch<3>(a, scores, top_counts, stream);
    default:
      return launch<4>(a, scores, top_counts, stream);
  }
}

}  // namespace baleen::cuda
