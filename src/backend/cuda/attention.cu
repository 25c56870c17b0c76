// One CTA = one query token × 16 heads × a range of 64-key tiles; 4 warps. Per tile: dequantize the 64 rows
// to bf16 in shared memory, S = Q·Kᵀ (warp w: keys 16w…16w+15, bf16 m16n8k16 MMAs), online-softmax update
// per head, O += P·V (warp w: dims 128w…128w+127, V read transposed from the same rows, K = V). The
// unnormalized O, running max and sum of each split go to the workspace; combine_kernel merges the splits
// and the sink: out = Σ_s e^{m_s−M} O_s / (e^{sink−M} + Σ_s e^{m_s−M} l_s).
#include <cuda_bf16.h>
#include <cuda_fp8.h>

#include <algorithm>

#include "backend/cuda/attention.h"
#include "backend/cuda/block_scale.cuh"
#include "backend/cuda/mma.cuh"

namespace baleen::cuda {
namespace {

constexpr int kTileKeys = 64, kHeads = 16, kWarps = 4, kThreads = kWarps * 32;
constexpr int kRowPad = 8;  // bf16 elements: rows 16 bytes apart mod 128, so ldmatrix rows hit distinct banks
constexpr int kKStride = kKvDim + kRowPad, kSStride = kTileKeys + 4, kPStride = kTileKeys + kRowPad;
constexpr int kNope = kKvDim - kKvRopeDim;

struct Smem {
  __nv_bfloat16 k[kTileKeys][kKStride];
  __nv_bfloat16 q[kHeads][kKStride];
  float s[kHeads][kSStride];
  __nv_bfloat16 p[kHeads][kPStride];
  float m[kHeads], l[kHeads], alpha[kHeads];
  const uint8_t* data[kTileKeys];  // null: no row
  const uint8_t* scales[kTileKeys];
};

struct Plan {
  int splits = 1, tiles_per_split = 1;
};

Plan plan(const SparseDecodeArgs& a) {
  int sms = 132, device = 0;
  if (cudaGetDevice(&device) == cudaSuccess)
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
  const int64_t keys = a.window.count + a.extra.count;
  const int tiles = static_cast<int>(std::max<int64_t>(1, (keys + kTileKeys - 1) / kTileKeys));
  const int64_t groups = a.tokens * (a.heads / kHeads);
  Plan p;
  p.splits = static_cast<int>(std::clamp<int64_t>((2 * sms + groups - 1) / groups, 1, tiles));
  p.tiles_per_split = (tiles + p.splits - 1) / p.splits;
  p.splits = (tiles + p.tiles_per_split - 1) / p.tiles_per_split;
  return p;
}

__device__ __forceinline__ const uint8_t* row_data(const KvPool& pool, int64_t r) {
  return pool.pages + (r / pool.page_rows) * pool.page_rows * (kKvDataBytes + kKvScaleBytes) +
         (r % pool.page_rows) * kKvDataBytes;
}
__device__ __forceinline__ const uint8_t* row_scales(const KvPool& pool, int64_t r) {
  return pool.pages + (r / pool.page_rows) * pool.page_rows * (kKvDataBytes + kKvScaleBytes) +
         pool.page_rows * kKvDataBytes + (r % pool.page_rows) * kKvScaleBytes;
}

// Row pointers of the tile's 64 list positions, then the rows dequantized into sm.k (zeros for none).
__device__ void load_tile(const SparseDecodeArgs& a, int64_t t, int64_t first, Smem& sm) {
  if (threadIdx.x < kTileKeys) {
    const int64_t pos = first + threadIdx.x;
    const bool in_window = pos < a.window.count;
    int64_t r = -1;
    if (in_window) {
      r = a.window.rows[t * a.window.stride + pos];
    } else if (pos < a.window.count + a.extra.count) {
      r = a.extra.rows[t * a.extra.stride + pos - a.window.count];
    }
    const KvPool pool = in_window ? a.window_pool : a.extra_pool;
    sm.data[threadIdx.x] = r >= 0 ? row_data(pool, r) : nullptr;
    sm.scales[threadIdx.x] = r >= 0 ? row_scales(pool, r) : nullptr;
  }
  __syncthreads();
  constexpr int kVecs = kKvDataBytes / 16;  // 28 FP8 vectors, then 8 bf16 vectors
  for (int i = threadIdx.x; i < kTileKeys * kVecs; i += kThreads) {
    const int key = i / kVecs, c = i % kVecs;
    const uint8_t* src = sm.data[key];
    uint4 v = make_uint4(0, 0, 0, 0);
    if (src != nullptr) v = load_stream(src + c * 16);
    if (c < kNope / 16) {
      const float scale = src != nullptr ? ue8m0_to_float(sm.scales[key][c / 4]) : 0.0f;
      store_e4m3x16_as_bf16(v, scale, &sm.k[key][c * 16]);
    } else {
      *reinterpret_cast<uint4*>(&sm.k[key][kNope + (c - kNope / 16) * 8]) = v;
    }
  }
  __syncthreads();
}

// S[16 heads][keys 16w…16w+15] into sm.s, scaled, −inf where there is no row.
__device__ void scores(Smem& sm, float scale) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  float s[2][4] = {};
#pragma unroll 4
  for (int kk = 0; kk < kKvDim / 16; ++kk) {
    uint32_t a[4], b[4];
    ldmatrix_x4(a, &sm.q[(lane % 8) + 8 * ((lane / 8) % 2)][kk * 16 + 8 * (lane / 16)]);
    ldmatrix_x4(b, &sm.k[warp * 16 + (lane % 8) + 8 * (lane / 16)][kk * 16 + 8 * ((lane / 8) % 2)]);
    const uint32_t b0[2] = {b[0], b[1]}, b1[2] = {b[2], b[3]};
    mma_bf16_16x8x16(s[0], a, b0);
    mma_bf16_16x8x16(s[1], a, b1);
  }
#pragma unroll
  for (int nt = 0; nt < 2; ++nt) {
    const int key = warp * 16 + nt * 8 + 2 * t;
    const bool v0 = sm.data[key] != nullptr, v1 = sm.data[key + 1] != nullptr;
    sm.s[g][key] = v0 ? s[nt][0] * scale : -INFINITY;
    sm.s[g][key + 1] = v1 ? s[nt][1] * scale : -INFINITY;
    sm.s[g + 8][key] = v0 ? s[nt][2] * scale : -INFINITY;
    sm.s[g + 8][key + 1] = v1 ? s[nt][3] * scale : -INFINITY;
  }
}

// Online softmax over the tile: 8 threads a head, 8 keys a thread; P (bf16) and the rescale factor.
__device__ void softmax_update(Smem& sm) {
  const int h = threadIdx.x / 8, sub = threadIdx.x % 8;
  float x[8], tile_max = -INFINITY;
#pragma unroll
  for (int i = 0; i < 8; ++i) tile_max = fmaxf(tile_max, x[i] = sm.s[h][sub * 8 + i]);
  for (int o = 1; o < 8; o *= 2) tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, o));
  const float m_old = sm.m[h], m_new = fmaxf(m_old, tile_max);
  const float alpha = m_new == -INFINITY ? 1.0f : expf(m_old - m_new);
  float sum = 0;
#pragma unroll
  for (int i = 0; i < 8; i += 2) {
    const float p0 = m_new == -INFINITY ? 0.0f : expf(x[i] - m_new);
    const float p1 = m_new == -INFINITY ? 0.0f : expf(x[i + 1] - m_new);
    const __nv_bfloat162 p = __floats2bfloat162_rn(p0, p1);
    *reinterpret_cast<__nv_bfloat162*>(&sm.p[h][sub * 8 + i]) = p;
    sum += __low2float(p) + __high2float(p);  // the rounded weights, as P·V uses them
  }
  for (int o = 1; o < 8; o *= 2) sum += __shfl_xor_sync(0xffffffffu, sum, o);
  __syncwarp();
  if (sub == 0) {
    sm.m[h] = m_new;
    sm.l[h] = sm.l[h] * alpha + sum;
    sm.alpha[h] = alpha;
  }
}

// o (warp w: dims 128w…) = o·alpha + P·V.
__device__ void accumulate_pv(const Smem& sm, float (&o)[16][4]) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4;
  const float a0 = sm.alpha[g], a8 = sm.alpha[g + 8];
#pragma unroll
  for (int nt = 0; nt < 16; ++nt) o[nt][0] *= a0, o[nt][1] *= a0, o[nt][2] *= a8, o[nt][3] *= a8;
#pragma unroll
  for (int kk = 0; kk < kTileKeys / 16; ++kk) {
    uint32_t a[4];
    ldmatrix_x4(a, &sm.p[(lane % 8) + 8 * ((lane / 8) % 2)][kk * 16 + 8 * (lane / 16)]);
#pragma unroll
    for (int np = 0; np < 8; ++np) {
      uint32_t b[4];
      ldmatrix_x4_trans(
          b, &sm.k[kk * 16 + (lane % 8) + 8 * ((lane / 8) % 2)][warp * 128 + np * 16 + 8 * (lane / 16)]);
      const uint32_t b0[2] = {b[0], b[1]}, b1[2] = {b[2], b[3]};
      mma_bf16_16x8x16(o[2 * np], a, b0);
      mma_bf16_16x8x16(o[2 * np + 1], a, b1);
    }
  }
}

__global__ void __launch_bounds__(kThreads)
    sparse_decode_kernel(SparseDecodeArgs a, int tiles_per_split, float* partial_o, float* partial_ml) {
  extern __shared__ __align__(16) uint8_t smem_raw[];
  Smem& sm = *reinterpret_cast<Smem*>(smem_raw);
  const int64_t t = blockIdx.z, group = blockIdx.y, split = blockIdx.x;
  const int64_t h0 = group * kHeads;
  for (int i = threadIdx.x; i < kHeads * kKvDim / 4; i += kThreads) {
    const int h = i / (kKvDim / 4), c = i % (kKvDim / 4);
    const float4 v = *reinterpret_cast<const float4*>(a.q + (t * a.heads + h0 + h) * kKvDim + c * 4);
    *reinterpret_cast<uint2*>(&sm.q[h][c * 4]) = make_uint2(pack_bf16(v.x, v.y), pack_bf16(v.z, v.w));
  }
  if (threadIdx.x < kHeads) sm.m[threadIdx.x] = -INFINITY, sm.l[threadIdx.x] = 0.0f;
  float o[16][4] = {};
  const int64_t keys = a.window.count + a.extra.count;
  const int64_t first_tile = split * tiles_per_split;
  for (int64_t tile = first_tile; tile < first_tile + tiles_per_split && tile * kTileKeys < keys; ++tile) {
    load_tile(a, t, tile * kTileKeys, sm);  // ends with a barrier
    scores(sm, a.scale);
    __syncthreads();
    softmax_update(sm);
    __syncthreads();
    accumulate_pv(sm, o);
    __syncthreads();
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, tq = lane % 4;
  const int64_t base = ((t * gridDim.y + group) * gridDim.x + split) * kHeads;
#pragma unroll
  for (int nt = 0; nt < 16; ++nt) {
    const int dim = warp * 128 + nt * 8 + 2 * tq;
    *reinterpret_cast<float2*>(partial_o + (base + g) * kKvDim + dim) = make_float2(o[nt][0], o[nt][1]);
    *reinterpret_cast<float2*>(partial_o + (base + g + 8) * kKvDim + dim) = make_float2(o[nt][2], o[nt][3]);
  }
  if (threadIdx.x < kHeads) {
    partial_ml[(base + threadIdx.x) * 2] = sm.m[threadIdx.x];
    partial_ml[(base + threadIdx.x) * 2 + 1] = sm.l[threadIdx.x];
  }
}

// One CTA per (token, head): merges the splits and the sink. 128 threads × 4 dims.
__global__ void combine_kernel(SparseDecodeArgs a, int splits, const float* partial_o,
                               const float* partial_ml) {
  const int64_t t = blockIdx.y, head = blockIdx.x, group = head / kHeads, hh = head % kHeads;
  const int64_t groups = a.heads / kHeads;
  auto at = [&](int s) { return ((t * groups + group) * splits + s) * kHeads + hh; };
  const float sink = a.sinks[head];
  float m = sink;
  for (int s = 0; s < splits; ++s) m = fmaxf(m, partial_ml[at(s) * 2]);
  float den = expf(sink - m);
  float4 acc = make_float4(0, 0, 0, 0);
  const int dim = threadIdx.x * 4;
  for (int s = 0; s < splits; ++s) {
    const float w = expf(partial_ml[at(s) * 2] - m);  // 0 for a split that saw no row (m_s = −inf)
    den += w * partial_ml[at(s) * 2 + 1];
    const float4 v = *reinterpret_cast<const float4*>(partial_o + at(s) * kKvDim + dim);
    acc.x += w * v.x, acc.y += w * v.y, acc.z += w * v.z, acc.w += w * v.w;
  }
  const float inv = 1.0f / den;
  *reinterpret_cast<float4*>(a.out + (t * a.heads + head) * kKvDim + dim) =
      make_float4(acc.x * inv, acc.y * inv, acc.z * inv, acc.w * inv);
}

}  // namespace

size_t sparse_decode_workspace_bytes(const SparseDecodeArgs& args) {
  const Plan p = plan(args);
  const auto rows = static_cast<size_t>(args.tokens * args.heads * p.splits);
  return rows * kKvDim * sizeof(float) + rows * 2 * sizeof(float);
}

cudaError_t sparse_decode_attention(const SparseDecodeArgs& args, void* workspace, size_t workspace_bytes,
                                    cudaStream_t stream) {
  if (args.tokens < 1 || args.heads < kHeads || args.heads % kHeads != 0 || args.window.count < 0 ||
      args.extra.count < 0 || (args.window.count > 0 && args.window_pool.page_rows < 1) ||
      (args.extra.count > 0 && args.extra_pool.page_rows < 1) || workspace == nullptr ||
      workspace_bytes < sparse_decode_workspace_bytes(args))
    return cudaErrorInvalidValue;
  const Plan p = plan(args);
  auto* partial_o = static_cast<float*>(workspace);
  float* partial_ml = partial_o + args.tokens * args.heads * p.splits * kKvDim;
  const int smem = static_cast<int>(sizeof(Smem));
  cudaError_t e =
      cudaFuncSetAttribute(sparse_decode_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
  if (e != cudaSuccess) return e;
  const dim3 grid(p.splits, static_cast<unsigned>(args.heads / kHeads), static_cast<unsigned>(args.tokens));
  sparse_decode_kernel<<<grid, kThreads, smem, stream>>>(args, p.tiles_per_split, partial_o, partial_ml);
  e = cudaGetLastError();
  if (e != cudaSuccess) return e;
  combine_kernel<<<dim3(static_cast<unsigned>(args.heads), static_cast<unsigned>(args.tokens)), kKvDim / 4, 0,
                   stream>>>(args, p.splits, partial_o, partial_ml);
  return cudaGetLastError();
}

}  // namespace baleen::cuda
