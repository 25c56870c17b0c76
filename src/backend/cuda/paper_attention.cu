// The session attention on tensor cores, for V4's paper rows (spec "Attention"): what session_kernels.cu's
// attention_kernel computes for any row format on the CUDA cores, here for head dim 512 over rows of 448
// e4m3 values (a power-of-two scale per 64) and 64 bf16 RoPE values. One CTA = one query × 16 heads × one
// part of its key list, in tiles of 64 keys; 8 warps (a decode step has few CTAs, so each warp's path is
// short and two warps share a scheduler).
//
// A stored row is exact in bf16, so S = q·kᵀ and O += p·v are bf16 m16n8k16 MMAs with fp32 accumulators,
// and q and the softmax weights p are each split into two bf16 terms (hi + lo, within 2^−17 of the fp32
// value): the products are the fp32 products to ~1e−6. The step's own rows (fp32, not stored yet) are
// scored and added in fp32 on the CUDA cores. The next tile's rows are loaded into registers while the
// current one is multiplied. Each part's unnormalized O, max and sum go to the partials, and
// paper_combine_kernel adds the sink and merges the parts in order. The parts depend on the query's own key
// count alone, so a row's bits do not depend on its batch.
#include <cuda_bf16.h>

#include <algorithm>

#include "backend/cuda/block_scale.cuh"
#include "backend/cuda/kv_codec.cuh"
#include "backend/cuda/mma.cuh"
#include "backend/cuda/session_kernels.h"
#include "backend/cuda/session_rows.cuh"
#include "backend/cuda/weight_values.cuh"

namespace baleen::cuda {
namespace {

constexpr int kHeads = 16, kWarps = 8, kThreads = kWarps * 32, kTileKeys = 64;
constexpr int kDim = 512, kRope = 64, kNope = kDim - kRope;
constexpr int kDataBytes = kNope + 2 * kRope, kScaleBytes = 8;
constexpr int kCodeChunks = kNope / 16, kChunks = kDataBytes / 16;  // 16-byte chunks: 28 of codes, then 8 bf16
constexpr int kKeyThreads = kThreads / kTileKeys;                   // threads a key: chunks 4j + quarter
constexpr int kThreadChunks = kChunks / kKeyThreads;
constexpr int64_t kMaxParts = 128;
constexpr int kPad = 8;  // bf16s: rows 16 bytes apart mod 128, so ldmatrix's 8 rows hit distinct banks
constexpr int kKStride = kDim + kPad, kSStride = kTileKeys + 4, kPStride = kTileKeys + kPad;
static_assert(kKeyThreads == 4 && kChunks % 4 == 0 && kCodeChunks % 4 == 0, "four threads load a key, a scale block each j");
constexpr int kKeysPerWarp = kTileKeys / kWarps, kDimsPerWarp = kDim / kWarps;  // scores, then P·V
static_assert(kKeysPerWarp == 8 && kDimsPerWarp == 64, "a warp scores one n-tile of keys and sums 64 values");

enum KeyKind : int8_t { kNoKey = 0, kStored = 1, kFresh = 2 };

struct Smem {
  __nv_bfloat16 k[kTileKeys][kKStride];  // stored rows; zeros for fresh keys and none
  __nv_bfloat16 q_hi[kHeads][kKStride], q_lo[kHeads][kKStride];
  float s[kHeads][kSStride];  // the tile's scores, then its weights
  __nv_bfloat16 p_hi[kHeads][kPStride], p_lo[kHeads][kPStride];
  float m[kHeads], l[kHeads], alpha[kHeads];
  const float* fresh[kTileKeys];  // a fresh key's fp32 row
  int8_t kind[kTileKeys];
};

// The tiles a part of a query with n keys takes: as few as keep it to kMaxParts parts.
__host__ __device__ inline int64_t part_keys(int64_t n) {
  const int64_t tiles = n > kTileKeys ? (n + kTileKeys - 1) / kTileKeys : 1;
  return (tiles + kMaxParts - 1) / kMaxParts * kTileKeys;
}

// Where key `key` of query t's list is: a stored row (ring or entry), the step's own fp32 row, or none.
struct KeyRef {
  const uint8_t* data = nullptr;
  const uint8_t* scales = nullptr;
  const float* fresh = nullptr;
};

__device__ inline KeyRef key_ref(const AttentionLaunch& a, const SequenceKeys& s, const KeyList& l, int64_t t,
                                 int64_t key, int64_t end) {
  KeyRef r;
  if (key >= end) return r;
  if (key < l.window_keys) {
    const int64_t pos = l.first + key;
    if (pos >= s.start) {
      r.fresh = s.chunk + (pos - s.start) * s.ld_chunk;
    } else {
      r.data = stored_data(s.ring, pos % s.window), r.scales = stored_scales(s.ring, pos % s.window);
    }
    return r;
  }
  const int64_t j = key - l.window_keys, e = a.picks ? a.picks[t * a.ld_picks + j] : j;
  if (e >= 0 && e < s.entry_count) r.data = stored_data(s.entries, e), r.scales = stored_scales(s.entries, e);
  return r;
}

// A thread's quarter of a stored row: chunks 4j + quarter (four threads read 64 consecutive bytes) and the
// row's scales.
struct RowPart {
  uint4 chunk[kThreadChunks];
  uint2 scales;
};

__device__ inline void fetch(const KeyRef& r, int quarter, RowPart& h) {
#pragma unroll
  for (int j = 0; j < kThreadChunks; ++j) {
    h.chunk[j] = r.data ? __ldg(reinterpret_cast<const uint4*>(r.data) + kKeyThreads * j + quarter)
                        : make_uint4(0, 0, 0, 0);
  }
  h.scales = r.data ? __ldg(reinterpret_cast<const uint2*>(r.scales)) : make_uint2(0, 0);
}

// The key's quarter row into sm.k as bf16 (codes × their block's scale: exact), and what the key is.
__device__ inline void store_key(const KeyRef& r, const RowPart& h, int key, int quarter, Smem& sm) {
#pragma unroll
  for (int j = 0; j < kThreadChunks; ++j) {
    const int c = kKeyThreads * j + quarter;
    if (j < kCodeChunks / kKeyThreads) {
      // Chunk c's 16 codes are in scale block c / 4 = j.
      const uint32_t word = j < 4 ? h.scales.x : h.scales.y;
      const float scale = ue8m0_to_float(static_cast<uint8_t>(word >> (8 * (j % 4))));
      store_e4m3x16_as_bf16(h.chunk[j], scale, &sm.k[key][c * 16]);
    } else {
      *reinterpret_cast<uint4*>(&sm.k[key][kNope + (c - kCodeChunks) * 8]) = h.chunk[j];
    }
  }
  if (quarter == 0) {
    sm.fresh[key] = r.fresh;
    sm.kind[key] = r.data ? kStored : r.fresh ? kFresh : kNoKey;
  }
}

// S[16 heads][keys 8w … 8w + 7] into sm.s, scaled; −inf where there is no key (a fresh key's is replaced by
// fresh_scores). Two k-steps a round: even and odd steps in separate accumulators.
__device__ inline void scores(Smem& sm, float scale) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  float hi[2][4] = {}, lo[2][4] = {};
  const int arow = (lane % 8) + 8 * ((lane / 8) % 2), acol = 8 * (lane / 16);
#pragma unroll 4
  for (int kk = 0; kk < kDim / 16; kk += 2) {
    uint32_t ah0[4], al0[4], ah1[4], al1[4], b[4];
    ldmatrix_x4(ah0, &sm.q_hi[arow][kk * 16 + acol]);
    ldmatrix_x4(al0, &sm.q_lo[arow][kk * 16 + acol]);
    ldmatrix_x4(ah1, &sm.q_hi[arow][kk * 16 + 16 + acol]);
    ldmatrix_x4(al1, &sm.q_lo[arow][kk * 16 + 16 + acol]);
    ldmatrix_x4(b, &sm.k[warp * kKeysPerWarp + lane % 8][kk * 16 + 8 * (lane / 8)]);  // k-steps kk, kk + 1
    const uint32_t b0[2] = {b[0], b[1]}, b1[2] = {b[2], b[3]};
    mma_bf16_16x8x16(hi[0], ah0, b0);
    mma_bf16_16x8x16(lo[0], al0, b0);
    mma_bf16_16x8x16(hi[1], ah1, b1);
    mma_bf16_16x8x16(lo[1], al1, b1);
  }
  const int key = warp * kKeysPerWarp + 2 * t;
  const bool v0 = sm.kind[key] != kNoKey, v1 = sm.kind[key + 1] != kNoKey;
  auto s_of = [&](int i) { return (hi[0][i] + hi[1][i] + (lo[0][i] + lo[1][i])) * scale; };
  sm.s[g][key] = v0 ? s_of(0) : -INFINITY;
  sm.s[g][key + 1] = v1 ? s_of(1) : -INFINITY;
  sm.s[g + 8][key] = v0 ? s_of(2) : -INFINITY;
  sm.s[g + 8][key + 1] = v1 ? s_of(3) : -INFINITY;
}

// The fresh keys' scores in fp32 (q as hi + lo): warp w takes heads 2w and 2w + 1, a lane 16 of the values.
__device__ inline void fresh_scores(Smem& sm, float scale) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  for (int key = 0; key < kTileKeys; ++key) {
    const float* row = sm.fresh[key];
    if (row == nullptr) continue;
    float v[kDim / 32];
#pragma unroll
    for (int i = 0; i < kDim / 32; ++i) v[i] = row[lane + 32 * i];
    constexpr int kWarpHeads = kHeads / kWarps;
    float dot[kWarpHeads];
#pragma unroll
    for (int hh = 0; hh < kWarpHeads; ++hh) {
      const int h = warp * kWarpHeads + hh;
      dot[hh] = 0.0f;
#pragma unroll
      for (int i = 0; i < kDim / 32; ++i) {
        const int c = lane + 32 * i;
        dot[hh] = fmaf(__bfloat162float(sm.q_hi[h][c]) + __bfloat162float(sm.q_lo[h][c]), v[i], dot[hh]);
      }
    }
    const float sum = transposed_warp_sums(dot);
    if (first_holder<kWarpHeads>()) sm.s[warp * kWarpHeads + sum_index<kWarpHeads>()][key] = sum * scale;
  }
}

// Online softmax over the tile: 16 threads a head, 4 keys a thread. The weights stay in sm.s (fp32, for the
// fresh keys) and go to p_hi/p_lo; the rescale factor to sm.alpha.
__device__ inline void softmax_update(Smem& sm) {
  constexpr int kHeadThreads = kThreads / kHeads, kKeys = kTileKeys / kHeadThreads;
  const int h = threadIdx.x / kHeadThreads, sub = threadIdx.x % kHeadThreads;
  float x[kKeys], tile_max = -INFINITY;
#pragma unroll
  for (int i = 0; i < kKeys; ++i) tile_max = fmaxf(tile_max, x[i] = sm.s[h][sub * kKeys + i]);
  for (int o = 1; o < kHeadThreads; o *= 2) tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, o));
  const float m_old = sm.m[h], m_new = fmaxf(m_old, tile_max);
  const float alpha = m_new == -INFINITY ? 1.0f : expf(m_old - m_new);
  float sum = 0;
#pragma unroll
  for (int i = 0; i < kKeys; i += 2) {
    const float p0 = m_new == -INFINITY ? 0.0f : expf(x[i] - m_new);
    const float p1 = m_new == -INFINITY ? 0.0f : expf(x[i + 1] - m_new);
    sum += p0 + p1;
    sm.s[h][sub * kKeys + i] = p0, sm.s[h][sub * kKeys + i + 1] = p1;
    const __nv_bfloat162 hi = __floats2bfloat162_rn(p0, p1);
    const __nv_bfloat162 lo = __floats2bfloat162_rn(p0 - __low2float(hi), p1 - __high2float(hi));
    *reinterpret_cast<__nv_bfloat162*>(&sm.p_hi[h][sub * kKeys + i]) = hi;
    *reinterpret_cast<__nv_bfloat162*>(&sm.p_lo[h][sub * kKeys + i]) = lo;
  }
  for (int o = 1; o < kHeadThreads; o *= 2) sum += __shfl_xor_sync(0xffffffffu, sum, o);
  __syncwarp();
  if (sub == 0) {
    sm.m[h] = m_new;
    sm.l[h] = sm.l[h] * alpha + sum;
    sm.alpha[h] = alpha;
  }
}

// o (warp w: dims 64w …) = o·alpha + P·V, V read transposed from the key rows (V4's keys are its values).
__device__ inline void accumulate_pv(const Smem& sm, float (&o)[8][4]) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4;
  const float a0 = sm.alpha[g], a8 = sm.alpha[g + 8];
#pragma unroll
  for (int nt = 0; nt < 8; ++nt) o[nt][0] *= a0, o[nt][1] *= a0, o[nt][2] *= a8, o[nt][3] *= a8;
#pragma unroll
  for (int kk = 0; kk < kTileKeys / 16; ++kk) {
    uint32_t ah[4], al[4];
    ldmatrix_x4(ah, &sm.p_hi[(lane % 8) + 8 * ((lane / 8) % 2)][kk * 16 + 8 * (lane / 16)]);
    ldmatrix_x4(al, &sm.p_lo[(lane % 8) + 8 * ((lane / 8) % 2)][kk * 16 + 8 * (lane / 16)]);
#pragma unroll
    for (int np = 0; np < 4; ++np) {
      uint32_t b[4];
      ldmatrix_x4_trans(b, &sm.k[kk * 16 + (lane % 8) + 8 * ((lane / 8) % 2)]
                                [warp * kDimsPerWarp + np * 16 + 8 * (lane / 16)]);
      const uint32_t b0[2] = {b[0], b[1]}, b1[2] = {b[2], b[3]};
      mma_bf16_16x8x16(o[2 * np], ah, b0);
      mma_bf16_16x8x16(o[2 * np + 1], ah, b1);
      mma_bf16_16x8x16(o[2 * np], al, b0);
      mma_bf16_16x8x16(o[2 * np + 1], al, b1);
    }
  }
}

// The fresh keys' weighted rows into o in fp32 (their sm.k rows are zeros, so the MMAs added nothing).
__device__ inline void fresh_values(const Smem& sm, float (&o)[8][4]) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  for (int key = 0; key < kTileKeys; ++key) {
    const float* row = sm.fresh[key];
    if (row == nullptr) continue;
    const float w0 = sm.s[g][key], w8 = sm.s[g + 8][key];
#pragma unroll
    for (int nt = 0; nt < 8; ++nt) {
      const int dim = warp * kDimsPerWarp + nt * 8 + 2 * t;
      const float x = row[dim], y = row[dim + 1];
      o[nt][0] = fmaf(w0, x, o[nt][0]), o[nt][1] = fmaf(w0, y, o[nt][1]);
      o[nt][2] = fmaf(w8, x, o[nt][2]), o[nt][3] = fmaf(w8, y, o[nt][3]);
    }
  }
}

__global__ void __launch_bounds__(kThreads, 2) paper_attention_kernel(AttentionLaunch a) {
  extern __shared__ __align__(16) uint8_t smem_raw[];
  Smem& sm = *reinterpret_cast<Smem*>(smem_raw);
  const int64_t t = blockIdx.x, h0 = int64_t{blockIdx.y} * kHeads, z = blockIdx.z;
  const SequenceKeys& s = a.sequences[a.row_sequence[t]];
  const KeyList l = key_list(a, s, a.positions[t]);
  const int64_t n = l.window_keys + l.entry_keys, per = part_keys(n);
  if (z * per >= n) return;
  const int64_t begin = z * per, end = min(n, begin + per);
  const int key = threadIdx.x / kKeyThreads, quarter = threadIdx.x % kKeyThreads;
  // The first tile's rows are found and on their way before q is staged (q's loads all issued before its
  // first store: one memory latency, not one an element).
  KeyRef ref = key_ref(a, s, l, t, begin + key, end);
  RowPart rows;
  fetch(ref, quarter, rows);
  constexpr int kQPerThread = kHeads * kDim / kThreads;
  float qv[kQPerThread];
#pragma unroll
  for (int u = 0; u < kQPerThread; ++u) {
    const int i = threadIdx.x + u * kThreads;
    qv[u] = a.q[t * a.ldq + (h0 + i / kDim) * kDim + i % kDim];
  }
#pragma unroll
  for (int u = 0; u < kQPerThread; ++u) {
    const int i = threadIdx.x + u * kThreads, h = i / kDim, c = i % kDim;
    const __nv_bfloat16 hi = __float2bfloat16_rn(qv[u]);
    sm.q_hi[h][c] = hi, sm.q_lo[h][c] = __float2bfloat16_rn(qv[u] - __bfloat162float(hi));
  }
  if (threadIdx.x < kHeads) sm.m[threadIdx.x] = -INFINITY, sm.l[threadIdx.x] = 0.0f;
  float o[8][4] = {};
  for (int64_t base = begin; base < end; base += kTileKeys) {
    store_key(ref, rows, key, quarter, sm);
    const bool any_fresh = __syncthreads_or(ref.fresh != nullptr) != 0;
    if (base + kTileKeys < end) {  // the next tile's rows load while this one is multiplied
      ref = key_ref(a, s, l, t, base + kTileKeys + key, end);
      fetch(ref, quarter, rows);
    }
    scores(sm, a.scale);
    __syncthreads();
    if (any_fresh) {
      fresh_scores(sm, a.scale);
      __syncthreads();
    }
    softmax_update(sm);
    __syncthreads();
    accumulate_pv(sm, o);
    if (any_fresh) fresh_values(sm, o);
    __syncthreads();
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, tq = lane % 4;
  float* part_g = a.partials + ((t * a.heads + h0 + g) * a.splits + z) * (kDim + 2);
  float* part_g8 = a.partials + ((t * a.heads + h0 + g + 8) * a.splits + z) * (kDim + 2);
#pragma unroll
  for (int nt = 0; nt < 8; ++nt) {
    const int dim = warp * kDimsPerWarp + nt * 8 + 2 * tq;
    part_g[2 + dim] = o[nt][0], part_g[3 + dim] = o[nt][1];
    part_g8[2 + dim] = o[nt][2], part_g8[3 + dim] = o[nt][3];
  }
  if (threadIdx.x < kHeads) {
    float* part = a.partials + ((t * a.heads + h0 + threadIdx.x) * a.splits + z) * (kDim + 2);
    part[0] = sm.m[threadIdx.x], part[1] = sm.l[threadIdx.x];
  }
}

// out(t, h), 128 of its values a CTA: the parts rescaled to the common maximum with the sink, summed in
// part order. The parts' maxima and sums are read once into shared memory, a part a thread.
constexpr int kCombineThreads = kMaxParts;  // a part's stats a thread, then a value each
static_assert(kDim % kCombineThreads == 0, "a CTA takes 128 of a head's values");

__global__ void __launch_bounds__(kCombineThreads) paper_combine_kernel(AttentionLaunch a) {
  __shared__ float factor[kMaxParts], sum[kMaxParts], top_den[2];
  const int64_t t = blockIdx.x, h = blockIdx.y, c = int64_t{blockIdx.z} * kCombineThreads + threadIdx.x;
  const KeyList l = key_list(a, a.sequences[a.row_sequence[t]], a.positions[t]);
  const int64_t n = l.window_keys + l.entry_keys, parts = (n + part_keys(n) - 1) / part_keys(n);
  const float* part = a.partials + (t * a.heads + h) * a.splits * (kDim + 2);
  const float sink = a.sinks[h];
  const int z0 = threadIdx.x;
  const float m = z0 < parts ? part[z0 * (kDim + 2)] : -INFINITY;
  if (z0 < parts) sum[z0] = part[z0 * (kDim + 2) + 1];
  factor[z0] = m;
  __syncthreads();
  if (threadIdx.x == 0) {
    float top = sink;
    for (int z = 0; z < parts; ++z) top = fmaxf(top, factor[z]);
    top_den[0] = top;
  }
  __syncthreads();
  const float top = top_den[0];
  __syncthreads();
  factor[z0] = m == -INFINITY ? 0.0f : expf(m - top);  // a part that saw no key adds nothing
  __syncthreads();
  if (threadIdx.x == 0) {
    float den = expf(sink - top);
    for (int z = 0; z < parts; ++z) den += factor[z] * sum[z];
    top_den[1] = den;
  }
  float v = 0.0f;
#pragma unroll 16
  for (int z = 0; z < parts; ++z) v += factor[z] * part[z * (kDim + 2) + 2 + c];
  __syncthreads();
  a.out[t * a.ldo + h * kDim + c] = v / top_den[1];
}

bool paper_row(const DeviceCodec& c) {
  return c.format == kv_detail::kFp8Rope && c.dim == kDim && c.rope_dim == kRope && c.data_bytes == kDataBytes &&
         c.scale_bytes == kScaleBytes;
}

}  // namespace

// Even page sizes keep every stored row on a 16-byte boundary (pages start on one).
bool paper_attention_fits(const SequenceKeys* keys, int64_t sequences, int64_t heads, int64_t head_dim) {
  if (head_dim != kDim || heads <= 0 || heads % kHeads != 0) return false;
  auto paper = [](const StoredRowsRef& r) { return paper_row(r.codec) && r.page_rows % 2 == 0; };
  for (int64_t i = 0; i < sequences; ++i) {
    if (!paper(keys[i].ring) || (keys[i].ratio != 0 && !paper(keys[i].entries))) return false;
  }
  return true;
}

// parts(n) ≤ min(kMaxParts, tiles(n)) for every n ≤ most.
int64_t paper_attention_splits(int64_t most) {
  return std::clamp<int64_t>((most + kTileKeys - 1) / kTileKeys, 1, kMaxParts);
}

cudaError_t paper_attention(const AttentionLaunch& a, cudaStream_t stream) {
  if (a.head_dim != kDim || a.heads <= 0 || a.heads % kHeads != 0 || a.splits < 1 || a.partials == nullptr) {
    return cudaErrorInvalidValue;
  }
  const int smem = static_cast<int>(sizeof(Smem));
  cudaError_t e = cudaFuncSetAttribute(paper_attention_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
  if (e != cudaSuccess) return e;
  const dim3 grid(static_cast<unsigned>(a.rows), static_cast<unsigned>(a.heads / kHeads),
                  static_cast<unsigned>(a.splits));
  paper_attention_kernel<<<grid, kThreads, smem, stream>>>(a);
  e = cudaGetLastError();
  if (e != cudaSuccess) return e;
  paper_combine_kernel<<<dim3(static_cast<unsigned>(a.rows), static_cast<unsigned>(a.heads), kDim / kCombineThreads),
                         kCombineThreads, 0, stream>>>(a);
  return cudaGetLastError();
}

}  // namespace baleen::cuda
