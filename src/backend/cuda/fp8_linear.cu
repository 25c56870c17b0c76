// Decode path: each warp owns 16 weight rows and walks its K range in 128-wide steps (one scale block).
// Lane (g, t) loads 32 contiguous bytes of rows g and g+8 — 128 bytes of each row per 4 lanes, so every
// sector fetched is used — and feeds them to four m16n8k32 e4m3 MMAs. The MMA's k order is permuted
// (lane t's bytes j·8 … j·8+7 are its k slots in step j); the activations in shared memory are read
// with the same permutation, so the dot product is unchanged. Each step's block-scale product
// (weight × activation) is applied to a fresh accumulator. Thin layers split K over CTAs; the last CTA
// of a row tile to arrive sums the partials in split order, so results are deterministic.
#include <algorithm>

#include "backend/cuda/block_scale.cuh"
#include "backend/cuda/fp8_linear.h"
#include "backend/cuda/mma.cuh"

namespace baleen::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kRowsPerWarp = 16;
constexpr int kRowsPerCta = kWarps * kRowsPerWarp;
constexpr int kBlock = 128;
constexpr int kSmemRowPad = 16;  // keeps the 8 token rows of a quarter-warp's loads in distinct banks

struct DecodeSplit {
  int row_ctas = 0, splits = 0, blocks_per_split = 0;
};

DecodeSplit plan_decode(int64_t tokens, const Fp8Weight& w) {
  int sms = 132;
  int device = 0;
  if (cudaGetDevice(&device) == cudaSuccess)
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
  DecodeSplit p;
  p.row_ctas = static_cast<int>((w.rows + kRowsPerCta - 1) / kRowsPerCta);
  const int k_blocks = static_cast<int>(w.cols / kBlock);
  // Enough CTAs for ~4 per SM, but the partial sums (splits·tokens·N·4 bytes) stay well under W's bytes.
  const int want = std::max(1, (4 * sms + p.row_ctas - 1) / p.row_ctas);
  const int cap = std::max<int64_t>(1, w.cols / (64 * std::max<int64_t>(tokens, 1)));
  p.splits = std::clamp(std::min(want, static_cast<int>(cap)), 1, k_blocks);
  p.blocks_per_split = (k_blocks + p.splits - 1) / p.splits;
  p.splits = (k_blocks + p.blocks_per_split - 1) / p.blocks_per_split;
  return p;
}

size_t counters_bytes(const DecodeSplit& p) {
  return (static_cast<size_t>(p.row_ctas) * sizeof(unsigned) + 255) / 256 * 256;
}

template <bool kUe8m0>
__device__ __forceinline__ float weight_scale(const Fp8Weight& w, int64_t row_block, int64_t k_block) {
  const int64_t i = row_block * (w.cols / kBlock) + k_block;
  return kUe8m0 ? ue8m0_to_float(static_cast<const uint8_t*>(w.scales)[i])
                : static_cast<const float*>(w.scales)[i];
}

// Copies the CTA's tokens × K-range of x (codes and scales) into shared memory; rows past x.rows are zero.
template <int kTokens>
__device__ void stage_activations(const Fp8Activations& x, int kb0, int nkb, int blocks_per_split,
                                  uint8_t* xs, int xs_stride, float* sx) {
  const int vecs_per_row = nkb * kBlock / 16;
  for (int i = threadIdx.x; i < kTokens * vecs_per_row; i += blockDim.x) {
    const int tok = i / vecs_per_row, c = i % vecs_per_row;
    uint4 v = make_uint4(0, 0, 0, 0);
    if (tok < x.rows)
      v = *reinterpret_cast<const uint4*>(x.data + tok * x.cols + int64_t{kb0} * kBlock + c * 16);
    *reinterpret_cast<uint4*>(xs + tok * xs_stride + c * 16) = v;
  }
  for (int i = threadIdx.x; i < kTokens * nkb; i += blockDim.x) {
    const int tok = i / nkb, b = i % nkb;
    sx[tok * blocks_per_split + b] = tok < x.rows ? x.scales[tok * x.scale_row_stride + kb0 + b] : 0.0f;
  }
}

// Rows g and g+8 of one 128-wide step: w[0..1] row g bytes 0–15, 16–31 of this lane's 32; w[2..3] row g+8.
__device__ __forceinline__ void load_step(const uint8_t* row_g, int64_t cols, int kb, uint4 (&w)[4]) {
  const uint8_t* p = row_g + int64_t{kb} * kBlock;
  w[0] = load_stream(p);
  w[1] = load_stream(p + 16);
  w[2] = load_stream(p + 8 * cols);
  w[3] = load_stream(p + 8 * cols + 16);
}

// c += this step's 16×8 tile for the 8 tokens whose staged row this lane reads at x_lane.
__device__ __forceinline__ void mma_step(const uint4 (&w)[4], const uint8_t* x_lane, float (&c)[4]) {
  const uint4 lo = *reinterpret_cast<const uint4*>(x_lane), hi = *reinterpret_cast<const uint4*>(x_lane + 16);
  const uint32_t a0[4] = {w[0].x, w[2].x, w[0].y, w[2].y}, b0[2] = {lo.x, lo.y};
  const uint32_t a1[4] = {w[0].z, w[2].z, w[0].w, w[2].w}, b1[2] = {lo.z, lo.w};
  const uint32_t a2[4] = {w[1].x, w[3].x, w[1].y, w[3].y}, b2[2] = {hi.x, hi.y};
  const uint32_t a3[4] = {w[1].z, w[3].z, w[1].w, w[3].w}, b3[2] = {hi.z, hi.w};
  mma_e4m3_16x8x32(c, a0, b0);
  mma_e4m3_16x8x32(c, a1, b1);
  mma_e4m3_16x8x32(c, a2, b2);
  mma_e4m3_16x8x32(c, a3, b3);
}

// The last CTA of a row tile to finish sums the splits' partials (in split order) into y.
__device__ void reduce_splits(const float* partials, int splits, int tokens, int64_t n, int64_t row_begin,
                              float* y, int64_t ldy) {
  const int64_t rows = min(int64_t{kRowsPerCta}, n - row_begin);
  for (int i = threadIdx.x; i < tokens * rows; i += blockDim.x) {
    const int tok = static_cast<int>(i / rows);
    const int64_t row = row_begin + i % rows;
    float s = 0;
    for (int k = 0; k < splits; ++k) s += __ldcg(partials + (int64_t{k} * tokens + tok) * n + row);
    y[tok * ldy + row] = s;
  }
}

template <int kTiles, bool kUe8m0>
__global__ void __launch_bounds__(kWarps * 32)
    fp8_linear_decode_kernel(Fp8Activations x, Fp8Weight w, float* y, int64_t ldy, int blocks_per_split,
                             float* partials, unsigned* counters) {
  constexpr int kTokens = kTiles * 8;
  extern __shared__ __align__(16) uint8_t smem[];
  const int xs_stride = blocks_per_split * kBlock + kSmemRowPad;
  uint8_t* xs = smem;
  float* sx = reinterpret_cast<float*>(smem + kTokens * xs_stride);
  const int k_blocks = static_cast<int>(w.cols / kBlock);
  const int kb0 = blockIdx.y * blocks_per_split, nkb = min(blocks_per_split, k_blocks - kb0);
  stage_activations<kTokens>(x, kb0, nkb, blocks_per_split, xs, xs_stride, sx);
  __syncthreads();

  const int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const int64_t row0 = int64_t{blockIdx.x} * kRowsPerCta + threadIdx.x / 32 * kRowsPerWarp;
  float acc[kTiles][4] = {};
  if (row0 < w.rows) {
    const uint8_t* row_g = w.data + (row0 + g) * w.cols + t * 32;
    uint4 cur[4], next[4];
    load_step(row_g, w.cols, kb0, cur);
    for (int b = 0; b < nkb; ++b) {
      if (b + 1 < nkb) load_step(row_g, w.cols, kb0 + b + 1, next);
      const float ws = weight_scale<kUe8m0>(w, row0 / kBlock, kb0 + b);
#pragma unroll
      for (int n = 0; n < kTiles; ++n) {
        float c[4] = {};
        mma_step(cur, xs + (n * 8 + g) * xs_stride + b * kBlock + t * 32, c);
        const float s0 = ws * sx[(n * 8 + 2 * t) * blocks_per_split + b];
        const float s1 = ws * sx[(n * 8 + 2 * t + 1) * blocks_per_split + b];
        acc[n][0] += c[0] * s0;
        acc[n][1] += c[1] * s1;
        acc[n][2] += c[2] * s0;
        acc[n][3] += c[3] * s1;
      }
#pragma unroll
      for (int i = 0; i < 4; ++i) cur[i] = next[i];
    }
  }

  const bool split = gridDim.y > 1;
  float* out = split ? partials + int64_t{blockIdx.y} * x.rows * w.rows : y;
  const int64_t ld = split ? w.rows : ldy;
  if (row0 < w.rows) {
#pragma unroll
    for (int n = 0; n < kTiles; ++n) {
      const int tok = n * 8 + 2 * t;
      const int64_t r = row0 + g;
      if (tok < x.rows) out[tok * ld + r] = acc[n][0], out[tok * ld + r + 8] = acc[n][2];
      if (tok + 1 < x.rows) out[(tok + 1) * ld + r] = acc[n][1], out[(tok + 1) * ld + r + 8] = acc[n][3];
    }
  }
  if (!split) return;
  __shared__ bool last;
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0) last = atomicAdd(counters + blockIdx.x, 1u) == gridDim.y - 1;
  __syncthreads();
  if (!last) return;
  __threadfence();
  reduce_splits(partials, gridDim.y, static_cast<int>(x.rows), w.rows, int64_t{blockIdx.x} * kRowsPerCta, y,
                ldy);
  if (threadIdx.x == 0) counters[blockIdx.x] = 0;
}

template <int kTiles, bool kUe8m0>
cudaError_t launch_decode(const Fp8Activations& x, const Fp8Weight& w, float* y, int64_t ldy,
                          const DecodeSplit& p, float* partials, unsigned* counters, cudaStream_t stream) {
  const size_t smem = kTiles * 8 * (p.blocks_per_split * kBlock + kSmemRowPad) +
                      kTiles * 8 * p.blocks_per_split * sizeof(float);
  auto kernel = fp8_linear_decode_kernel<kTiles, kUe8m0>;
  cudaError_t e =
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem));
  if (e != cudaSuccess) return e;
  kernel<<<dim3(p.row_ctas, p.splits), kWarps * 32, smem, stream>>>(x, w, y, ldy, p.blocks_per_split,
                                                                    partials, counters);
  return cudaGetLastError();
}

template <bool kUe8m0>
cudaError_t dispatch_tiles(const Fp8Activations& x, const Fp8Weight& w, float* y, int64_t ldy,
                           const DecodeSplit& p, float* partials, unsigned* counters, cudaStream_t stream) {
  switch ((x.rows + 7) / 8) {
    case 1:
      return launch_decode<1, kUe8m0>(x, w, y, ldy, p, partials, counters, stream);
    case 2:
      return launch_decode<2, kUe8m0>(x, w, y, ldy, p, partials, counters, stream);
    case 3:
      return launch_decode<3, kUe8m0>(x, w, y, ldy, p, partials, counters, stream);
    default:
      return launch_decode<4, kUe8m0>(x, w, y, ldy, p, partials, counters, stream);
  }
}

}  // namespace

size_t fp8_linear_decode_workspace_bytes(int64_t tokens, const Fp8Weight& w) {
  const DecodeSplit p = plan_decode(tokens, w);
  if (p.splits <= 1) return 0;
  return counters_bytes(p) + static_cast<size_t>(p.splits) * tokens * w.rows * sizeof(float);
}

cudaError_t fp8_linear_decode(const Fp8Activations& x, const Fp8Weight& w, float* y, int64_t ldy,
                              void* workspace, size_t workspace_bytes, cudaStream_t stream) {
  if (x.rows < 1 || x.rows > kFp8DecodeMaxTokens || x.cols != w.cols || w.cols % kBlock != 0 ||
      w.rows % kRowsPerWarp != 0 || x.scale_block_stride != 1 || ldy < w.rows)
    return cudaErrorInvalidValue;
  const DecodeSplit p = plan_decode(x.rows, w);
  unsigned* counters = static_cast<unsigned*>(workspace);
  float* partials = nullptr;
  if (p.splits > 1) {
    if (workspace == nullptr || workspace_bytes < fp8_linear_decode_workspace_bytes(x.rows, w))
      return cudaErrorInvalidValue;
    partials = reinterpret_cast<float*>(static_cast<uint8_t*>(workspace) + counters_bytes(p));
  }
  return w.ue8m0_scales ? dispatch_tiles<true>(x, w, y, ldy, p, partials, counters, stream)
                        : dispatch_tiles<false>(x, w, y, ldy, p, partials, counters, stream);
}

}  // namespace baleen::cuda
