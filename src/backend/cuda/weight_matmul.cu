#include "backend/cuda/weight_matmul.h"

#include "backend/cuda/weight_values.cuh"

namespace baleen::cuda {
namespace {

constexpr int kWarps = 8;        // per block
constexpr int kRowsPerWarp = 4;  // weight rows a warp multiplies with each x value it loads
constexpr int kTokenTile = 8;    // most tokens a warp multiplies each weight value with
constexpr int kMaxPasses = 4;    // most passes a row's chunks are dealt to (row_split)

// A warp's weight rows r[k] dotted with x rows [0, n): acc[i][k] = Σ_c w(r[k], c)·x[i·ldx + c] over
// columns [0, w.cols). Each sum is one fixed sequence of fp32 operations on x row i and w row r[k], set by
// the row length alone: a row's chunks are dealt to `split` passes of 32 lanes, each lane sums its chunks
// in order, each pass is summed by warp_sum, and the passes' sums are added in pass order. Whichever warps
// run the passes, whatever n is and whichever other rows or tokens share them, a product's rows do not
// depend on the batch they are computed in.
template <int kT>
struct RowSums {
  float acc[kT * kRowsPerWarp] = {};  // [i · kRowsPerWarp + k]
};

// The lanes that share a row's columns: lane `index` of `count` (32 for one warp, 32·split for a split row).
struct RowLanes {
  int index, count;
};

// One 16-byte chunk of each of the warp's rows (values c … c + kChunkValues − 1) against the tokens' x. A
// quantized chunk lies in one scale block: its code values' products are summed first and the sum is
// scaled once (one multiply a chunk, not one a value), then added to the row's running sum.
template <int kDt, int kT>
__device__ __forceinline__ void chunk_products(const uint4 (&raw)[kRowsPerWarp], const float (&scale)[kRowsPerWarp],
                                               const float* x, int64_t ldx, int n, int64_t c, RowSums<kT>& s) {
  constexpr bool kQuantized = kDt == kDtF8E4M3 || kDt == kDtF4E2M1x2;
  float part[kT * kRowsPerWarp] = {};
  float(&sums)[kT * kRowsPerWarp] = kQuantized ? part : s.acc;
#pragma unroll
  for (int q = 0; q < kChunkValues<kDt> / 4; ++q) {
    float4 v[kRowsPerWarp];
#pragma unroll
    for (int k = 0; k < kRowsPerWarp; ++k) v[k] = chunk_quad<kDt>(raw[k], q);
#pragma unroll
    for (int i = 0; i < kT; ++i) {
      if (i >= n) break;
      const float4 xv = __ldg(reinterpret_cast<const float4*>(x + i * ldx + c) + q);
#pragma unroll
      for (int k = 0; k < kRowsPerWarp; ++k) {
        float& a = sums[i * kRowsPerWarp + k];
        a = fmaf(v[k].x, xv.x, a);
        a = fmaf(v[k].y, xv.y, a);
        a = fmaf(v[k].z, xv.z, a);
        a = fmaf(v[k].w, xv.w, a);
      }
    }
  }
  if constexpr (kQuantized) {
    constexpr float kCodeScale = kDt == kDtF4E2M1x2 ? kE2m1AsE4m3Scale : 1.0f;
#pragma unroll
    for (int i = 0; i < kT; ++i) {
      if (i >= n) break;
#pragma unroll
      for (int k = 0; k < kRowsPerWarp; ++k) {
        float& a = s.acc[i * kRowsPerWarp + k];
        a = fmaf(part[i * kRowsPerWarp + k] * kCodeScale, scale[k], a);
      }
    }
  }
}

// Rows in 16-byte chunks, lane i of n taking chunks i, i + n, …: one wide load of each row per chunk and
// one of each x row per 4 values, for all of the warp's rows and tokens. A lane loads two chunks of each
// row before it uses either, so twice the bytes are in flight (long rows are otherwise bound by memory
// latency); the products still go in chunk order.
template <int kDt, int kT>
__device__ void chunked_products(const DeviceWeight& w, const int64_t (&r)[kRowsPerWarp], const float* x,
                                 int64_t ldx, int n, RowLanes lanes, RowSums<kT>& s) {
  constexpr int kValues = kChunkValues<kDt>;
  constexpr bool kQuantized = kDt == kDtF8E4M3 || kDt == kDtF4E2M1x2;
  constexpr int kInFlight = 2;
  const int64_t chunks = w.cols / kValues;
  // Chunks per scale block, so a chunk's block is a 32-bit quotient (64-bit division is slow on the GPU).
  const int chunks_per_block = kQuantized ? static_cast<int>(w.block_cols / kValues) : 1;
  const uint4* rows[kRowsPerWarp];
  int64_t scale_row[kRowsPerWarp];
#pragma unroll
  for (int k = 0; k < kRowsPerWarp; ++k) {
    rows[k] = static_cast<const uint4*>(w.data) + r[k] * chunks;
    scale_row[k] = kQuantized ? (r[k] / w.block_rows) * w.scale_cols : 0;
  }
  const int64_t step = lanes.count;
  for (int64_t j0 = lanes.index; j0 < chunks; j0 += step * kInFlight) {
    uint4 raw[kInFlight][kRowsPerWarp];
    float scale[kInFlight][kRowsPerWarp];
#pragma unroll
    for (int u = 0; u < kInFlight; ++u) {
      const int64_t j = j0 + step * u;
      if (j >= chunks) break;
      const int block = static_cast<int>(j) / chunks_per_block;
#pragma unroll
      for (int k = 0; k < kRowsPerWarp; ++k) {
        raw[u][k] = __ldg(rows[k] + j);
        scale[u][k] = kQuantized ? scale_at(w, scale_row[k] + block) : 1.0f;
      }
    }
#pragma unroll
    for (int u = 0; u < kInFlight; ++u) {
      const int64_t j = j0 + step * u;
      if (j >= chunks) break;
      chunk_products<kDt>(raw[u], scale[u], x, ldx, n, j * kValues, s);
    }
  }
}

// Any layout (odd widths, unaligned views): an element at a time, lane i of n taking columns i, i + n, ….
template <int kT>
__device__ void element_products(const DeviceWeight& w, const int64_t (&r)[kRowsPerWarp], const float* x,
                                 int64_t ldx, int n, RowLanes lanes, RowSums<kT>& s) {
  for (int64_t c = lanes.index; c < w.cols; c += lanes.count) {
#pragma unroll
    for (int k = 0; k < kRowsPerWarp; ++k) {
      const float wv = weight_value(w, r[k], c);
#pragma unroll
      for (int i = 0; i < kT; ++i) {
        if (i < n) s.acc[i * kRowsPerWarp + k] = fmaf(wv, x[i * ldx + c], s.acc[i * kRowsPerWarp + k]);
      }
    }
  }
}

// The sums acc[i·kRowsPerWarp + k] of the warp's rows, spread over the lanes by transposed_warp_sums:
// returns the lane's one sum. Every lane of the warp calls it.
template <int kT>
__device__ float row_products(const DeviceWeight& w, const int64_t (&r)[kRowsPerWarp], const float* x, int64_t ldx,
                              int n, RowLanes lanes) {
  RowSums<kT> s;
  if (chunk_readable(w, x, ldx)) {
    switch (w.dtype) {
      case kDtF32: chunked_products<kDtF32>(w, r, x, ldx, n, lanes, s); break;
      case kDtBF16: chunked_products<kDtBF16>(w, r, x, ldx, n, lanes, s); break;
      case kDtF8E4M3: chunked_products<kDtF8E4M3>(w, r, x, ldx, n, lanes, s); break;
      default: chunked_products<kDtF4E2M1x2>(w, r, x, ldx, n, lanes, s); break;
    }
  } else {
    element_products(w, r, x, ldx, n, lanes, s);
  }
  return transposed_warp_sums(s.acc);
}

// One warp's lanes, for the kernels that give each row one warp.
__device__ inline RowLanes warp_lanes() {
  return {static_cast<int>(threadIdx.x % 32), 32};
}

// The warp's rows: first, first + 1, … of [0, count), the last repeated past the end (its sums unused).
__device__ inline void warp_rows(int64_t offset, int64_t first, int64_t count, int64_t (&r)[kRowsPerWarp]) {
#pragma unroll
  for (int k = 0; k < kRowsPerWarp; ++k) r[k] = offset + min(first + k, count - 1);
}

__device__ inline int64_t first_row() {
  return (int64_t{blockIdx.x} * kWarps + threadIdx.x / 32) * kRowsPerWarp;
}

// A block's warps in groups of `parallel`: a group takes kRowsPerWarp rows, and its warps take the rows'
// `split` passes in turn (warp q of the group passes q, q + parallel, …), against a tile of up to kT tokens
// per blockIdx.y. The passes' sums meet in shared memory and the group's first warp adds them in pass
// order, so `parallel` changes where the work runs, never the sums. Two blocks an SM where the registers
// allow (the bytes in flight a decode product needs).
template <int kT>
__global__ void __launch_bounds__(kWarps * 32, kT <= 4 ? 2 : 1)
    weight_matmul_kernel(const float* __restrict__ x, int64_t ldx, int64_t tokens, DeviceWeight w, int64_t out_g,
                         int64_t in_g, int split, int parallel, float* __restrict__ y, int64_t ldy) {
  constexpr int kN = kT * kRowsPerWarp;
  __shared__ float partial[kWarps * kMaxPasses][kN];  // [group · split + pass][token · kRowsPerWarp + row]
  const int warp = static_cast<int>(threadIdx.x / 32), lane = static_cast<int>(threadIdx.x % 32);
  const int group = warp / parallel, q = warp % parallel;
  const int64_t o = (int64_t{blockIdx.x} * (kWarps / parallel) + group) * kRowsPerWarp, g = blockIdx.z;
  const int64_t t0 = int64_t{blockIdx.y} * kT;
  const int n = static_cast<int>(min(int64_t{kT}, tokens - t0));
  const float* xt = x + t0 * ldx + g * in_g;
  int64_t r[kRowsPerWarp];
  warp_rows(g * out_g, min(o, out_g - 1), out_g, r);
#pragma unroll 1
  for (int p = q; p < split; p += parallel) {
    const float sum = o < out_g ? row_products<kT>(w, r, xt, ldx, n, {p * 32 + lane, split * 32}) : 0.0f;
    if (first_holder<kN>()) partial[group * split + p][sum_index<kN>()] = sum;
  }
  __syncthreads();
  // Lane j of the group's first warp: sum j, token j / kRowsPerWarp, row j % kRowsPerWarp.
  const int i = lane / kRowsPerWarp, k = lane % kRowsPerWarp;
  if (q != 0 || lane >= kN || i >= n || o + k >= out_g) return;
  float sum = partial[group * split][lane];
  for (int p = 1; p < split; ++p) sum += partial[group * split + p][lane];
  y[(t0 + i) * ldy + g * out_g + o + k] = sum;
}

__device__ inline float clamp_silu_product(float gate, float up, float limit) {
  if (limit > 0) {
    gate = fminf(gate, limit);
    up = fminf(fmaxf(up, -limit), limit);
  }
  return gate / (1.0f + expf(-gate)) * up;
}

// Member m < tokens·k is token m / k's route m % k; member tokens·k + t is token t's shared expert.
__device__ inline bool member_weights(const DeviceExperts& e, const int32_t* experts, int64_t tokens, int64_t k,
                                      int64_t m, int64_t& t, DeviceWeight& w1, DeviceWeight& w2,
                                      DeviceWeight& w3) {
  if (m >= tokens * k) {
    t = m - tokens * k;
    w1 = e.shared_w1, w2 = e.shared_w2, w3 = e.shared_w3;
    return true;
  }
  t = m / k;
  const int32_t id = experts[m];
  if (id < 0 || id >= e.experts) return false;
  w1 = e.w1[id], w2 = e.w2[id], w3 = e.w3[id];
  return true;
}

// hidden[m, f] = swiglu(w1·x, w3·x) for one member per blockIdx.y: the first half of a block's warps take
// w1's rows, the second half w3's same rows, side by side (each warp one matrix: half the memory latencies
// a warp waits for of taking both), and they meet in shared memory. Two blocks an SM (128 registers).
__global__ void __launch_bounds__(kWarps * 32, 2)
    expert_hidden_kernel(const float* __restrict__ x, int64_t ldx, int64_t tokens, const int32_t* __restrict__ experts,
                         int64_t k, DeviceExperts e, float limit, float* __restrict__ hidden) {
  constexpr int kHalf = kWarps / 2;
  __shared__ float gates[kHalf][kRowsPerWarp];
  const int warp = static_cast<int>(threadIdx.x / 32);
  const bool up = warp >= kHalf;
  const int64_t m = blockIdx.y, f = (int64_t{blockIdx.x} * kHalf + warp % kHalf) * kRowsPerWarp;
  int64_t t;
  DeviceWeight w1, w2, w3;
  const bool live = f < e.inter && member_weights(e, experts, tokens, k, m, t, w1, w2, w3);
  float sum = 0.0f;
  if (live) {
    int64_t r[kRowsPerWarp];
    warp_rows(0, f, e.inter, r);
    sum = row_products<1>(up ? w3 : w1, r, x + t * ldx, ldx, 1, warp_lanes());
  }
  const int j = sum_index<kRowsPerWarp>();
  const bool holder = live && first_holder<kRowsPerWarp>() && f + j < e.inter;
  if (!up && holder) gates[warp][j] = sum;
  __syncthreads();
  if (up && holder) hidden[m * e.inter + f + j] = clamp_silu_product(gates[warp - kHalf][j], sum, limit);
}

// ys[m, c] = w2 row c · hidden[m].
__global__ void __launch_bounds__(kWarps * 32, 2)
    expert_down_kernel(int64_t tokens, const int32_t* __restrict__ experts, int64_t k, DeviceExperts e,
                       const float* __restrict__ hidden, float* __restrict__ ys) {
  const int64_t m = blockIdx.y, c = first_row();
  int64_t t;
  DeviceWeight w1, w2, w3;
  if (c >= e.hidden || !member_weights(e, experts, tokens, k, m, t, w1, w2, w3)) return;
  int64_t r[kRowsPerWarp];
  warp_rows(0, c, e.hidden, r);
  const float s = row_products<1>(w2, r, hidden + m * e.inter, e.inter, 1, warp_lanes());
  const int j = sum_index<kRowsPerWarp>();
  if (first_holder<kRowsPerWarp>() && c + j < e.hidden) ys[m * e.hidden + c + j] = s;
}

constexpr int kMaxRoutes = 32;

// out[t, c] = Σ over t's routes in ascending expert order of weight·ys, then the shared expert's row.
__global__ void expert_combine_kernel(int64_t tokens, const int32_t* __restrict__ experts,
                                      const float* __restrict__ weights, int64_t k, int64_t n_experts,
                                      int64_t hidden, const float* __restrict__ ys, float* __restrict__ out,
                                      int64_t ldo) {
  const int64_t t = blockIdx.y, c = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (c >= hidden) return;
  int order[kMaxRoutes];
  int n = 0;
  for (int s = 0; s < k && s < kMaxRoutes; ++s) {
    const int32_t id = experts[t * k + s];
    if (id < 0 || id >= n_experts) continue;
    int at = n++;
    while (at > 0 && experts[t * k + order[at - 1]] > id) {
      order[at] = order[at - 1];
      --at;
    }
    order[at] = s;
  }
  float acc = 0.0f;
  for (int i = 0; i < n; ++i) acc += weights[t * k + order[i]] * ys[(t * k + order[i]) * hidden + c];
  acc += 1.0f * ys[(tokens * k + t) * hidden + c];
  out[t * ldo + c] = acc;
}

unsigned blocks(int64_t n, int64_t per) {
  return static_cast<unsigned>((n + per - 1) / per);
}

// Row t per blockIdx.y: whether x row t is finite, then the zero rows' value in every column.
__global__ void fill_zero_rows_kernel(const float* __restrict__ x, int64_t ldx, int64_t cols, float* __restrict__ y,
                                      int64_t ldy, int64_t n) {
  const int64_t t = blockIdx.y;
  int mine = 1;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) mine &= isfinite(x[t * ldx + c]) ? 1 : 0;
  const int finite = __syncthreads_and(mine);
  const float value = finite ? 0.0f : __uint_as_float(0x7fc00000u);
  for (int64_t c = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; c < n; c += int64_t{gridDim.x} * blockDim.x) {
    y[t * ldy + c] = value;
  }
}

__global__ void scatter_kept_kernel(const float* __restrict__ packed, int64_t ldp, int64_t kept_count,
                                    const int32_t* __restrict__ kept, float* __restrict__ y, int64_t ldy) {
  const int64_t t = blockIdx.y;
  for (int64_t k = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; k < kept_count; k += int64_t{gridDim.x} * blockDim.x) {
    y[t * ldy + kept[k]] = packed[t * ldp + k];
  }
}

// Passes a row's columns are dealt to: the most, up to kMaxPasses, that leave each lane at least two chunks
// (or elements) of a row a pass, loaded together. So a decode product with few rows can spread its passes
// over many warps. It depends on the row length only, never on the row count or the tokens, so a row's
// sums are the same in every batch and in a product of a subset of the rows (matmul_kept_rows). More
// passes, or fewer chunks a pass, cost more in reductions than they gave back (H200, 2026-12-03:
// docs/BENCHMARKS.md).
int row_split(const DeviceWeight& w) {
  const int64_t values = chunk_values(w.dtype);
  const int64_t units = values > 0 && w.cols % values == 0 ? w.cols / values : w.cols;
  int split = 1;
  while (split < kMaxPasses && units >= int64_t{128} * split) split *= 2;
  return split;
}

// Blocks a product should have before a row group's passes run side by side (about two per SM of an
// H200). Fewer warps a group keep more row groups on the same x columns, which they then share in L1.
constexpr int64_t kTargetBlocks = 264;

template <int kT>
void launch_weight_matmul(const float* x, int64_t ldx, int64_t tokens, const DeviceWeight& w, int64_t groups,
                          float* y, int64_t ldy, cudaStream_t stream) {
  const int64_t out_g = w.rows / groups, tiles = blocks(tokens, kT);
  const int split = row_split(w);
  int parallel = 1;
  while (parallel < split && blocks(out_g, kWarps / parallel * kRowsPerWarp) * tiles * groups < kTargetBlocks) {
    parallel *= 2;
  }
  const dim3 grid(blocks(out_g, kWarps / parallel * kRowsPerWarp), static_cast<unsigned>(tiles),
                  static_cast<unsigned>(groups));
  weight_matmul_kernel<kT>
      <<<grid, kWarps * 32, 0, stream>>>(x, ldx, tokens, w, out_g, w.cols, split, parallel, y, ldy);
}

}  // namespace

cudaError_t weight_matmul(const float* x, int64_t ldx, int64_t tokens, const DeviceWeight& w, int64_t groups,
                          float* y, int64_t ldy, cudaStream_t stream) {
  if (tokens <= 0) return cudaSuccess;
  if (groups <= 0 || w.rows % groups != 0) return cudaErrorInvalidValue;
  // The tile sets only how many tokens share a weight load: a token's sums are the same in every tile.
  if (tokens == 1) {
    launch_weight_matmul<1>(x, ldx, tokens, w, groups, y, ldy, stream);
  } else if (tokens <= 4) {
    launch_weight_matmul<4>(x, ldx, tokens, w, groups, y, ldy, stream);
  } else {
    launch_weight_matmul<kTokenTile>(x, ldx, tokens, w, groups, y, ldy, stream);
  }
  return cudaGetLastError();
}

cudaError_t scatter_kept_rows(const float* packed, int64_t ldp, int64_t kept_count, const int32_t* kept,
                              const float* x, int64_t ldx, int64_t cols, int64_t tokens, float* y, int64_t ldy,
                              int64_t n, cudaStream_t stream) {
  if (tokens <= 0) return cudaSuccess;
  const unsigned t = static_cast<unsigned>(tokens);
  fill_zero_rows_kernel<<<dim3(min(blocks(n, 256), 64u), t), 256, 0, stream>>>(x, ldx, cols, y, ldy, n);
  if (kept_count > 0) {
    scatter_kept_kernel<<<dim3(min(blocks(kept_count, 256), 64u), t), 256, 0, stream>>>(packed, ldp, kept_count, kept,
                                                                                         y, ldy);
  }
  return cudaGetLastError();
}

int64_t expert_mix_scratch_floats(int64_t tokens, int64_t k, const DeviceExperts& e) {
  const int64_t members = tokens * (k + 1);
  return members * (e.inter + e.hidden);
}

cudaError_t expert_mix(const float* x, int64_t ldx, int64_t tokens, const int32_t* experts, const float* weights,
                       int64_t k, const DeviceExperts& e, float limit, float* scratch, float* out, int64_t ldo,
                       cudaStream_t stream) {
  if (tokens <= 0) return cudaSuccess;
  if (k > kMaxRoutes) return cudaErrorInvalidValue;
  const int64_t members = tokens * (k + 1);
  float* hidden = scratch;
  float* ys = scratch + members * e.inter;
  const unsigned m = static_cast<unsigned>(members);
  expert_hidden_kernel<<<dim3(blocks(e.inter, kWarps / 2 * kRowsPerWarp), m), kWarps * 32, 0, stream>>>(
      x, ldx, tokens, experts, k, e, limit, hidden);
  expert_down_kernel<<<dim3(blocks(e.hidden, kWarps * kRowsPerWarp), m), kWarps * 32, 0, stream>>>(tokens, experts, k,
                                                                                                     e, hidden, ys);
  // A skipped member leaves its ys row unwritten; the combine never reads it (out-of-range routes are skipped).
  expert_combine_kernel<<<dim3(blocks(e.hidden, 128), static_cast<unsigned>(tokens)), 128, 0, stream>>>(
      tokens, experts, weights, k, e.experts, e.hidden, ys, out, ldo);
  return cudaGetLastError();
}

}  // namespace baleen::cuda
