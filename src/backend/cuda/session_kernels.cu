#include <algorithm>

#include "backend/cuda/cpu_order_dot.cuh"
#include "backend/cuda/kv_codec.cuh"
#include "backend/cuda/session_kernels.h"
#include "backend/cuda/session_rows.cuh"
#include "backend/cuda/top_k_select.cuh"
#include "backend/cuda/weight_values.cuh"

namespace baleen::cuda {
namespace {

unsigned blocks(int64_t n, int64_t per) {
  return static_cast<unsigned>((n + per - 1) / per);
}

// ---- attention ----

// One warp a head, its q in registers. A block decodes each key of its split once for all its heads (up
// to 8), so more heads a block means fewer decodes of the same stored row (64 query heads share V4's one
// KV head); fewer heads than that take fewer warps. 16 heads (512 threads) would leave a thread too few
// registers for its q, accumulators and scores.
constexpr int kHeadsPerBlock = 8;
constexpr int kKeyTile = 16;       // keys decoded into shared memory per round
constexpr int kMaxHeadDim = 512;   // 16 accumulators a lane

// One warp writes a key row of d ≤ kMaxHeadDim values into shared memory: from fp32 (`fresh`), decoded
// from its stored form, or zeros (neither). Every lane's loads are issued before any of its stores: a
// loop that stored each value before loading the next would wait out one memory latency per element.
__device__ inline void load_key_row(const float* fresh, const DeviceCodec& codec, const uint8_t* data,
                                    const uint8_t* scales, int d, int lane, float* out) {
  float v[kMaxHeadDim / 32];
#pragma unroll
  for (int k = 0; k < kMaxHeadDim / 32; ++k) {
    const int c = lane + 32 * k;
    v[k] = c >= d ? 0.0f : fresh ? fresh[c] : data ? decode_element(codec, data, scales, c) : 0.0f;
  }
#pragma unroll
  for (int k = 0; k < kMaxHeadDim / 32; ++k) {
    if (lane + 32 * k < d) out[lane + 32 * k] = v[k];
  }
}

// Values i … i + 3 (i a multiple of 4) of a stored fp8 + bf16-RoPE row, decode_element's values: four e4m3
// codes through the hardware's conversion (exact) times their block's power-of-two scale, or four bf16. A
// NaN code, which encode never writes, takes decode_element itself (the CPU's NaN bits).
__device__ inline float4 fp8_rope_quad(const DeviceCodec& c, const uint8_t* data, const uint8_t* scales, int i) {
  const int nope = c.dim - c.rope_dim;
  if (i < nope) {
    const uint32_t w = *reinterpret_cast<const uint32_t*>(data + i);
    if (__vcmpeq4(w & 0x7F7F7F7Fu, 0x7F7F7F7Fu) != 0) {
      return make_float4(decode_element(c, data, scales, i), decode_element(c, data, scales, i + 1),
                         decode_element(c, data, scales, i + 2), decode_element(c, data, scales, i + 3));
    }
    const float scale = ue8m0_to_float(scales[i / kv_detail::kFp8Block]);
    const float4 v = e4m3x4_values(w);
    return make_float4(v.x * scale, v.y * scale, v.z * scale, v.w * scale);
  }
  const uint2 b = *reinterpret_cast<const uint2*>(data + nope + 2 * (i - nope));
  return make_float4(__uint_as_float(b.x << 16), __uint_as_float(b.x & 0xFFFF0000u), __uint_as_float(b.y << 16),
                     __uint_as_float(b.y & 0xFFFF0000u));
}

// Whether load_key_quads takes this row: d a multiple of 128, and the row fp32 on 16-byte boundaries, a
// stored fp8 + bf16-RoPE row of d values whose RoPE part starts on an 8-byte boundary, or no key.
__device__ inline bool quad_readable(const DeviceCodec& c, const float* fresh, const uint8_t* data, int d) {
  if (d % 128 != 0) return false;
  if (fresh) return reinterpret_cast<uintptr_t>(fresh) % 16 == 0;
  if (!data) return true;
  return c.format == kv_detail::kFp8Rope && c.dim == d && (d - c.rope_dim) % 8 == 0 &&
         reinterpret_cast<uintptr_t>(data) % 8 == 0;
}

// load_key_row's values four at a time: lane L takes values 4L + 128m, so a warp's loads and its float4
// stores are each consecutive (no bank conflicts), with every load issued before any store.
__device__ inline void load_key_quads(const float* fresh, const DeviceCodec& codec, const uint8_t* data,
                                      const uint8_t* scales, int d, int lane, float* out) {
  float4 v[kMaxHeadDim / 128];
#pragma unroll
  for (int m = 0; m < kMaxHeadDim / 128; ++m) {
    const int c = 4 * lane + 128 * m;
    v[m] = c >= d   ? float4{}
           : fresh  ? *reinterpret_cast<const float4*>(fresh + c)
           : data   ? fp8_rope_quad(codec, data, scales, c)
                    : float4{};
  }
#pragma unroll
  for (int m = 0; m < kMaxHeadDim / 128; ++m) {
    if (4 * lane + 128 * m < d) *reinterpret_cast<float4*>(out + 4 * lane + 128 * m) = v[m];
  }
}

__global__ void __launch_bounds__(kHeadsPerBlock * 32) attention_kernel(AttentionLaunch a) {
  extern __shared__ float ks[];            // [kKeyTile, d]
  __shared__ int64_t entry_of[kKeyTile];   // −1: a window key; −2: no key
  const int64_t t = blockIdx.x, d = a.head_dim;
  const SequenceKeys& s = a.sequences[a.row_sequence[t]];
  const int64_t p = a.positions[t];
  const KeyList l = key_list(a, s, p);
  const int64_t n = l.window_keys + l.entry_keys;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, heads_per_block = blockDim.x / 32;
  const int64_t h = int64_t{blockIdx.y} * heads_per_block + warp;
  // Loops over a lane's values run to the fixed bound, the columns past d predicated off: a bound known
  // only at run time would index acc and q dynamically and put them in local memory.
  constexpr int kPerLane = kMaxHeadDim / 32;
  float q[kPerLane];
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) {
    const int64_t c = lane + 32 * i;
    q[i] = h < a.heads && c < d ? a.q[t * a.ldq + h * d + c] : 0.0f;
  }
  const bool active = h < a.heads;
  // Split z of the key list takes keys [begin, end); alone, the sink starts the running softmax
  // (exp(sink − max) = 1), split, the combine adds it.
  const int64_t parts = (n + kAttentionSplit - 1) / kAttentionSplit, z = blockIdx.z;
  if (z > 0 && z >= parts) return;
  const int64_t begin = z * kAttentionSplit, end = min(n, begin + kAttentionSplit);
  const bool alone = parts <= 1;
  float run_max = alone ? (active ? a.sinks[h] : 0.0f) : -INFINITY, run_sum = alone ? 1.0f : 0.0f;
  float acc[kPerLane] = {};
  for (int64_t base = begin; base < end; base += kKeyTile) {
    __syncthreads();
    if (threadIdx.x < kKeyTile) {
      const int64_t key = base + threadIdx.x;
      int64_t e = -2;
      if (key >= end) {
        e = -2;
      } else if (key < l.window_keys) {
        e = -1;
      } else {
        const int64_t j = key - l.window_keys;
        e = a.picks ? a.picks[t * a.ld_picks + j] : j;
        if (e < 0 || e >= s.entry_count) e = -2;
      }
      entry_of[threadIdx.x] = e;
    }
    __syncthreads();
    // A key a warp, its address found once (not per element: 64-bit divisions are slow on the GPU).
    for (int j = warp; j < kKeyTile; j += heads_per_block) {
      const int64_t e = entry_of[j], pos = l.first + base + j;
      float* kj = ks + j * d;
      const float* fresh = nullptr;
      const StoredRowsRef* rows = nullptr;
      int64_t row = 0;
      if (e == -1 && pos >= s.start) {
        fresh = s.chunk + (pos - s.start) * s.ld_chunk;
      } else if (e == -1) {
        rows = &s.ring, row = pos % s.window;
      } else if (e >= 0) {
        rows = &s.entries, row = e;
      }
      const uint8_t* data = rows ? stored_data(*rows, row) : nullptr;
      const uint8_t* scales = rows ? stored_scales(*rows, row) : nullptr;
      const DeviceCodec codec = rows ? rows->codec : DeviceCodec{};
      if (quad_readable(codec, fresh, data, static_cast<int>(d))) {
        load_key_quads(fresh, codec, data, scales, static_cast<int>(d), lane, kj);
      } else {
        load_key_row(fresh, codec, data, scales, static_cast<int>(d), lane, kj);
      }
    }
    __syncthreads();
    if (!active) continue;
    // The tile's scores side by side (independent sums and shuffles), then one rescale for the tile.
    const int di = static_cast<int>(d);
    float score[kKeyTile];
#pragma unroll
    for (int j = 0; j < kKeyTile; ++j) {
      float dot = 0.0f;
#pragma unroll
      for (int i = 0; i < kPerLane; ++i) {
        if (lane + 32 * i < di) dot = fmaf(q[i], ks[j * di + lane + 32 * i], dot);
      }
      score[j] = dot;
    }
    // The tile's dot products summed across the warp at once (each with warp_sum's bits), then shared.
    const float summed = transposed_warp_sums(score);
    float tile_max = -INFINITY;
#pragma unroll
    for (int j = 0; j < kKeyTile; ++j) {
      const float dot = __shfl_sync(0xffffffffu, summed, j * (32 / kKeyTile));
      score[j] = entry_of[j] == -2 ? -INFINITY : dot * a.scale;
      tile_max = fmaxf(tile_max, score[j]);
    }
    if (tile_max == -INFINITY) continue;
    if (tile_max > run_max) {
      const float shrink = run_max == -INFINITY ? 0.0f : expf(run_max - tile_max);
      run_sum *= shrink;
#pragma unroll
      for (int i = 0; i < kPerLane; ++i) acc[i] *= shrink;
      run_max = tile_max;
    }
#pragma unroll
    for (int j = 0; j < kKeyTile; ++j) {
      if (score[j] == -INFINITY) continue;
      const float w = expf(score[j] - run_max);
      run_sum += w;
      const float* key = ks + j * di;
#pragma unroll
      for (int i = 0; i < kPerLane; ++i) {
        const int c = lane + 32 * i;
        if (c < di) acc[i] = fmaf(w, key[c], acc[i]);
      }
    }
  }
  if (!active) return;
  if (!alone) {  // partial (max, sum, acc) of split z
    float* part = a.partials + ((t * a.heads + h) * a.splits + z) * (d + 2);
    if (lane == 0) part[0] = run_max, part[1] = run_sum;
#pragma unroll
    for (int i = 0; i < kPerLane; ++i) {
      const int64_t c = lane + 32 * i;
      if (c < d) part[2 + c] = acc[i];
    }
    return;
  }
  const float inv = 1.0f / run_sum;
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) {
    const int64_t c = lane + 32 * i;
    if (c < d) a.out[t * a.ldo + h * d + c] = acc[i] * inv;
  }
}

// out(t, h) from the splits' partials and the sink: each split's share rescaled to the common maximum. The
// splits' maxima and sums are read once into shared memory and each factor exp(max − top) found once; the
// sums then run in split order, as one thread would run them.
__global__ void attention_combine_kernel(AttentionLaunch a) {
  extern __shared__ float split_stats[];  // [3, splits]: max, sum, factor
  __shared__ float top_den[2];
  const int64_t t = blockIdx.x, h = blockIdx.y, d = a.head_dim;
  const KeyList l = key_list(a, a.sequences[a.row_sequence[t]], a.positions[t]);
  const int64_t parts = (l.window_keys + l.entry_keys + kAttentionSplit - 1) / kAttentionSplit;
  if (parts <= 1) return;  // written by its one block
  const float* part = a.partials + (t * a.heads + h) * a.splits * (d + 2);
  float *maxima = split_stats, *sums = split_stats + a.splits, *factors = sums + a.splits;
  for (int64_t z = threadIdx.x; z < parts; z += blockDim.x) {
    maxima[z] = part[z * (d + 2)];
    sums[z] = part[z * (d + 2) + 1];
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    float top = a.sinks[h];
    for (int64_t z = 0; z < parts; ++z) top = fmaxf(top, maxima[z]);
    top_den[0] = top;
  }
  __syncthreads();
  const float top = top_den[0];
  for (int64_t z = threadIdx.x; z < parts; z += blockDim.x) {
    factors[z] = maxima[z] == -INFINITY ? 0.0f : expf(maxima[z] - top);
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    float den = expf(a.sinks[h] - top);
    for (int64_t z = 0; z < parts; ++z) {
      if (maxima[z] != -INFINITY) den += factors[z] * sums[z];
    }
    top_den[1] = den;
  }
  __syncthreads();
  const float den = top_den[1];
  for (int64_t c = threadIdx.x; c < d; c += blockDim.x) {
    float v = 0.0f;
    for (int64_t z = 0; z < parts; ++z) {
      if (maxima[z] != -INFINITY) v += factors[z] * part[z * (d + 2) + 2 + c];
    }
    a.out[t * a.ldo + h * d + c] = v / den;
  }
}

// ---- indexer ----

constexpr int kIndexerWarps = 8;
constexpr int kIndexerKeys = 64;                                // keys a block scores
constexpr int kIndexerWarpKeys = kIndexerKeys / kIndexerWarps;  // a warp's keys
constexpr int kIndexerLaneKeys = 4;                             // a lane's dots side by side
constexpr int kMaxIndexerDim = 128;                             // V4's index_head_dim

// Keys decoded into shared memory, kstride floats apart (a multiple of 4, 16-byte aligned).
struct SharedKeys {
  const float* k;
  int ldk;
  __device__ float4 quad(int j, int i) const { return *reinterpret_cast<const float4*>(k + j * ldk + i); }
  __device__ float one(int j, int i) const { return k[j * ldk + i]; }
};

// A block scores kIndexerKeys keys for one query row: its q staged once, transposed (qt[c·(heads+1) + h],
// the padding keeps the stores and the lanes' reads on distinct banks), the keys decoded into shared memory
// a warp a key. A warp then takes kIndexerWarpKeys keys, 4 at a time; its lanes take heads, each head's dots
// in the CPU's order; then lane j sums key j's heads in order, as the CPU's score does (one FMA a head after
// the ReLU).
__global__ void __launch_bounds__(kIndexerWarps * 32) indexer_scores_kernel(IndexerLaunch a, float* scores,
                                                                             int* top_counts) {
  extern __shared__ __align__(16) float smem[];
  const int64_t t = blockIdx.x;
  const int di = static_cast<int>(a.dim), heads = static_cast<int>(a.heads);
  const int qstride = heads + 1, kstride = (di + 3) / 4 * 4;
  float* qt = smem;                                   // [dim, heads + 1]
  float* ws = qt + (di * qstride + 3) / 4 * 4;        // [heads]
  float* ks = ws + (heads + 3) / 4 * 4;               // [kIndexerKeys, kstride]
  float* terms = ks + kIndexerKeys * kstride;         // [kIndexerWarps, kIndexerWarpKeys, heads + 1]
  const SequenceKeys& s = a.sequences[a.row_sequence[t]];
  const int64_t visible = visible_entries(s, a.positions[t]);
  const int64_t s0 = int64_t{blockIdx.y} * kIndexerKeys;
  if (s0 >= visible) return;
  for (int i = threadIdx.x; i < di * heads; i += blockDim.x) {
    const int h = i / di, c = i % di;
    qt[c * qstride + h] = a.q[t * a.ldq + i];
  }
  for (int i = threadIdx.x; i < heads; i += blockDim.x) ws[i] = a.head_weights[t * a.ldw + i];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  // A warp decodes its keys (warp, warp + 8, …) with every load issued before any store: one memory
  // latency for all of them, not one a key. A key's address is found once.
  float v[kIndexerWarpKeys][kMaxIndexerDim / 32];
#pragma unroll
  for (int r = 0; r < kIndexerWarpKeys; ++r) {
    const int64_t key = s0 + warp + r * kIndexerWarps;
    const uint8_t* data = key < visible ? stored_data(s.entries, key) : nullptr;
    const uint8_t* scales = key < visible ? stored_scales(s.entries, key) : nullptr;
#pragma unroll
    for (int e = 0; e < kMaxIndexerDim / 32; ++e) {
      const int c = lane + 32 * e;
      v[r][e] = c < di && data ? decode_element(s.entries.codec, data, scales, c) : 0.0f;
    }
  }
#pragma unroll
  for (int r = 0; r < kIndexerWarpKeys; ++r) {
#pragma unroll
    for (int e = 0; e < kMaxIndexerDim / 32; ++e) {
      if (lane + 32 * e < di) ks[(warp + r * kIndexerWarps) * kstride + lane + 32 * e] = v[r][e];
    }
  }
  __syncthreads();
  const int first = warp * kIndexerWarpKeys;
  float* term = terms + first * qstride;
  for (int j0 = 0; j0 < kIndexerWarpKeys && s0 + first + j0 < visible; j0 += kIndexerLaneKeys) {
    for (int h = lane; h < heads; h += 32) {
      float dot[kIndexerLaneKeys];
      const float* qh = qt + h;
      cpu_order_dots<kIndexerLaneKeys>([&](int i) { return qh[i * qstride]; },
                                       SharedKeys{ks + (first + j0) * kstride, kstride}, di, dot);
#pragma unroll
      for (int j = 0; j < kIndexerLaneKeys; ++j) {
        term[(j0 + j) * qstride + h] = dot[j] < 0.0f ? 0.0f : dot[j];  // std::max(dot, 0.0f): −0 and NaN pass
      }
    }
  }
  __syncwarp();
  const int64_t key = s0 + first + lane;
  if (lane < kIndexerWarpKeys && key < visible) {
    float acc = 0.0f;
    for (int h = 0; h < heads; ++h) acc = fmaf(ws[h], term[lane * qstride + h], acc);
    // + 0: a −0 score ties +0 as it does on the CPU (the selection orders by bits).
    const float score = acc * a.scale + 0.0f;
    scores[t * a.most + key] = score;
    atomicAdd(&top_counts[t * kTopDigits + top_digit(score)], 1);
  }
}

size_t indexer_scores_smem(const IndexerLaunch& a) {
  const int64_t qstride = a.heads + 1, kstride = (a.dim + 3) / 4 * 4;
  return static_cast<size_t>((a.dim * qstride + 3) / 4 * 4 + (a.heads + 3) / 4 * 4 + kIndexerKeys * kstride +
                             kIndexerKeys * qstride) *
         sizeof(float);
}

// Row t's top k of its visible entries' scores (top_k_select.cuh: the order of a stable descending sort).
__global__ void __launch_bounds__(kSelectThreads) indexer_select_kernel(IndexerLaunch a, const float* scores,
                                                                      const int* top_counts) {
  __shared__ SelectSmem sm;
  const int64_t t = blockIdx.x;
  const SequenceKeys& s = a.sequences[a.row_sequence[t]];
  const int64_t visible = visible_entries(s, a.positions[t]);
  select_top_k_row(scores + t * a.most, visible, a.k, a.picks + t * a.ld_picks, sm, top_counts + t * kTopDigits);
}

__global__ void scale_rows_kernel(const float* in, int64_t ld_in, int64_t cols, float scale, float* out,
                                  int64_t ld_out) {
  const int64_t t = blockIdx.y;
  for (int64_t c = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; c < cols; c += int64_t{gridDim.x} * blockDim.x) {
    out[t * ld_out + c] = in[t * ld_in + c] * scale;
  }
}

// ---- rows into state ----

__global__ void ring_append_kernel(DeviceCodec codec, const float* kv, int64_t ld, int64_t skip, int64_t start,
                                   uint8_t* ring, int64_t window) {
  const int64_t r = skip + blockIdx.x, slot = (start + r) % window;
  encode_row_block(codec, kv + r * ld, ring + slot * codec.data_bytes,
                   ring + window * codec.data_bytes + slot * codec.scale_bytes);
}

__global__ void store_rows_kernel(const float* rows_in, int64_t dim, StoredRowsRef rows, int64_t first) {
  const int64_t i = first + blockIdx.x;
  uint8_t* page = const_cast<uint8_t*>(rows.pages[i / rows.page_rows]);
  const int64_t slot = i % rows.page_rows;
  encode_row_block(rows.codec, rows_in + int64_t{blockIdx.x} * dim, page + slot * rows.codec.data_bytes,
                   page + rows.page_rows * rows.codec.data_bytes + slot * rows.codec.scale_bytes);
}

// ---- compressor ----

// Token row j of (tail ++ chunk), column col, of the kv and gate projections (gates with ape).
__device__ inline float token_kv(const CompressorLaunch& c, int64_t j, int64_t col) {
  return j < c.tail_rows ? c.tail_kv[j * c.width + col] : c.kv[(j - c.tail_rows) * c.ld_kv + col];
}
__device__ inline float token_gate(const CompressorLaunch& c, int64_t j, int64_t col) {
  if (j < c.tail_rows) return c.tail_gate[j * c.width + col];
  const int64_t i = j - c.tail_rows;
  return c.gate[i * c.ld_gate + col] + c.ape[((c.start + i) % c.ratio) * c.width + col];
}

constexpr float kUnused = -__builtin_huge_valf();

// One window per block: per channel, a softmax over its slots — for CSA the previous window's a-halves
// (token rows of window w − 1, or the kept overlap, or none for the very first window), then this
// window's b-halves; for HCA its m tokens — weights the slots' kv.
__global__ void compressor_pool_kernel(CompressorLaunch c, float* entries) {
  const int64_t w = blockIdx.x, m = c.ratio;
  for (int64_t ch = threadIdx.x; ch < c.dim; ch += blockDim.x) {
    // Slot s of 2m (CSA: 0 … m−1 previous, m … 2m−1 current) or of m (HCA).
    const auto slot = [&](int64_t s, float& kv, float& gate) {
      if (!c.overlap) {
        kv = token_kv(c, w * m + s, ch), gate = token_gate(c, w * m + s, ch);
      } else if (s >= m) {
        kv = token_kv(c, w * m + s - m, c.dim + ch), gate = token_gate(c, w * m + s - m, c.dim + ch);
      } else if (w > 0) {
        kv = token_kv(c, (w - 1) * m + s, ch), gate = token_gate(c, (w - 1) * m + s, ch);
      } else if (c.has_overlap) {
        kv = c.overlap_kv[s * c.dim + ch], gate = c.overlap_gate[s * c.dim + ch];
      } else {
        kv = 0.0f, gate = kUnused;
      }
    };
    const int64_t slots = c.overlap ? 2 * m : m;
    float top = kUnused;
    for (int64_t s = 0; s < slots; ++s) {
      float kv, gate;
      slot(s, kv, gate);
      top = fmaxf(top, gate);
    }
    float sum = 0.0f, acc = 0.0f;
    for (int64_t s = 0; s < slots; ++s) {
      float kv, gate;
      slot(s, kv, gate);
      if (gate == kUnused) continue;
      const float e = expf(gate - top);
      sum += e;
      acc += e * kv;
    }
    entries[w * c.dim + ch] = acc / sum;
  }
}

__global__ void compressor_overlap_kernel(CompressorLaunch c, int64_t windows) {
  const int64_t j = blockIdx.x, row = (windows - 1) * c.ratio + j;
  for (int64_t ch = threadIdx.x; ch < c.dim; ch += blockDim.x) {
    c.overlap_kv[j * c.dim + ch] = token_kv(c, row, ch);
    c.overlap_gate[j * c.dim + ch] = token_gate(c, row, ch);
  }
}

// Tail row j (from `from` on) takes token row windows·m + j, which lies in the chunk.
__global__ void compressor_tail_kernel(CompressorLaunch c, int64_t windows, int64_t from) {
  const int64_t j = from + blockIdx.x, row = windows * c.ratio + j;
  for (int64_t col = threadIdx.x; col < c.width; col += blockDim.x) {
    c.tail_kv[j * c.width + col] = token_kv(c, row, col);
    c.tail_gate[j * c.width + col] = token_gate(c, row, col);
  }
}

__global__ void entry_positions_kernel(int64_t first, int64_t count, int64_t ratio, int64_t* positions) {
  const int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (i < count) positions[i] = (first + i) * ratio;
}

}  // namespace

int64_t attention_partials_floats(int64_t rows, int64_t heads, int64_t head_dim, int64_t splits, bool tensor_cores) {
  return splits > 1 || tensor_cores ? rows * heads * splits * (head_dim + 2) : 0;
}

int64_t attention_splits(int64_t most, bool tensor_cores) {
  if (tensor_cores) return paper_attention_splits(most);
  return std::max<int64_t>(1, (most + kAttentionSplit - 1) / kAttentionSplit);
}

cudaError_t session_attention(const AttentionLaunch& a, cudaStream_t stream) {
  if (a.rows <= 0) return cudaSuccess;
  if (a.tensor_cores) return paper_attention(a, stream);
  if (a.head_dim > kMaxHeadDim || a.heads <= 0 || a.splits < 1 || (a.splits > 1 && !a.partials)) {
    return cudaErrorInvalidValue;
  }
  const size_t smem = static_cast<size_t>(kKeyTile * a.head_dim) * sizeof(float);
  const int64_t heads_per_block = min(a.heads, int64_t{kHeadsPerBlock});
  const dim3 grid(static_cast<unsigned>(a.rows), blocks(a.heads, heads_per_block), static_cast<unsigned>(a.splits));
  attention_kernel<<<grid, static_cast<unsigned>(heads_per_block * 32), smem, stream>>>(a);
  if (a.splits > 1) {
    const size_t stats = static_cast<size_t>(3 * a.splits) * sizeof(float);
    if (stats > 48 * 1024) return cudaErrorInvalidValue;
    attention_combine_kernel<<<dim3(static_cast<unsigned>(a.rows), static_cast<unsigned>(a.heads)), 256, stats,
                               stream>>>(a);
  }
  return cudaGetLastError();
}

static_assert(kIndexerTopDigits == kTopDigits);

namespace {
// The scores, then (16-byte aligned) the counts by top digit.
size_t indexer_scores_bytes(int64_t rows, int64_t most) {
  return static_cast<size_t>((rows * most + 3) / 4 * 4) * sizeof(float);
}
}  // namespace

size_t indexer_scratch_bytes(int64_t rows, int64_t most) {
  return indexer_scores_bytes(rows, most) + static_cast<size_t>(rows * kTopDigits) * sizeof(int);
}

cudaError_t session_indexer_scores(const IndexerLaunch& a, float* scores, int* top_counts, cudaStream_t stream) {
  const cudaError_t zeroed =
      cudaMemsetAsync(top_counts, 0, static_cast<size_t>(a.rows * kTopDigits) * sizeof(int), stream);
  if (zeroed != cudaSuccess) return zeroed;
  if (fp4_indexer_fits(a)) return fp4_indexer_scores(a, scores, top_counts, stream);
  if (a.dim > kMaxIndexerDim) return cudaErrorInvalidValue;
  const size_t smem = indexer_scores_smem(a);
  if (smem > 48 * 1024) {
    cudaFuncSetAttribute(indexer_scores_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem));
  }
  indexer_scores_kernel<<<dim3(static_cast<unsigned>(a.rows), blocks(a.most, kIndexerKeys)), kIndexerWarps * 32, smem,
                          stream>>>(a, scores, top_counts);
  return cudaGetLastError();
}

cudaError_t session_indexer_select(const IndexerLaunch& a, const float* scores, const int* top_counts,
                                   cudaStream_t stream) {
  if (a.k > kSelectMaxK) return cudaErrorInvalidValue;
  indexer_select_kernel<<<static_cast<unsigned>(a.rows), kSelectThreads, 0, stream>>>(a, scores, top_counts);
  return cudaGetLastError();
}

cudaError_t session_indexer(const IndexerLaunch& a, void* scratch, size_t scratch_bytes, cudaStream_t stream) {
  if (a.rows <= 0) return cudaSuccess;
  if (a.most <= 0) {  // nothing visible anywhere: every pick is −1
    return cudaMemset2DAsync(a.picks, static_cast<size_t>(a.ld_picks) * 4, 0xff, static_cast<size_t>(a.k) * 4,
                             static_cast<size_t>(a.rows), stream);
  }
  if (scratch_bytes < indexer_scratch_bytes(a.rows, a.most)) return cudaErrorInvalidValue;
  auto* scores = static_cast<float*>(scratch);
  auto* top_counts = reinterpret_cast<int*>(static_cast<char*>(scratch) + indexer_scores_bytes(a.rows, a.most));
  const cudaError_t e = session_indexer_scores(a, scores, top_counts, stream);
  return e != cudaSuccess ? e : session_indexer_select(a, scores, top_counts, stream);
}

cudaError_t scale_rows(const float* in, int64_t ld_in, int64_t rows, int64_t cols, float scale, float* out,
                       int64_t ld_out, cudaStream_t stream) {
  if (rows <= 0) return cudaSuccess;
  scale_rows_kernel<<<dim3(blocks(cols, 128), static_cast<unsigned>(rows)), 128, 0, stream>>>(in, ld_in, cols, scale,
                                                                                             out, ld_out);
  return cudaGetLastError();
}

cudaError_t ring_append(const DeviceCodec& codec, const float* kv, int64_t ld, int64_t rows, int64_t skip,
                        int64_t start, uint8_t* ring, int64_t window, cudaStream_t stream) {
  if (rows <= skip) return cudaSuccess;
  ring_append_kernel<<<static_cast<unsigned>(rows - skip), 128, 0, stream>>>(codec, kv, ld, skip, start, ring, window);
  return cudaGetLastError();
}

cudaError_t compressor_pool(const CompressorLaunch& c, int64_t windows, float* entries, cudaStream_t stream) {
  if (windows <= 0) return cudaSuccess;
  compressor_pool_kernel<<<static_cast<unsigned>(windows), 128, 0, stream>>>(c, entries);
  return cudaGetLastError();
}

cudaError_t compressor_keep_tail(const CompressorLaunch& c, int64_t windows, cudaStream_t stream) {
  if (windows > 0 && c.overlap) {
    compressor_overlap_kernel<<<static_cast<unsigned>(c.ratio), 128, 0, stream>>>(c, windows);
  }
  const int64_t total = c.tail_rows + c.rows, keep = total - windows * c.ratio;
  const int64_t from = windows > 0 ? 0 : c.tail_rows;
  if (keep > from) compressor_tail_kernel<<<static_cast<unsigned>(keep - from), 128, 0, stream>>>(c, windows, from);
  return cudaGetLastError();
}

cudaError_t entry_positions(int64_t first, int64_t count, int64_t ratio, int64_t* positions, cudaStream_t stream) {
  if (count <= 0) return cudaSuccess;
  entry_positions_kernel<<<blocks(count, 128), 128, 0, stream>>>(first, count, ratio, positions);
  return cudaGetLastError();
}

cudaError_t store_rows(const float* rows_in, int64_t count, int64_t dim, StoredRowsRef rows, int64_t first,
                       cudaStream_t stream) {
  if (count <= 0) return cudaSuccess;
  store_rows_kernel<<<static_cast<unsigned>(count), 128, 0, stream>>>(rows_in, dim, rows, first);
  return cudaGetLastError();
}

}  // namespace baleen::cuda
