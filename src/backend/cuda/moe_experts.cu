// Four launches: group the routes by expert (one CTA), gate/up with SwiGLU and FP8 requantization per
// active expert × 128 rows of F, down per active expert × 64 rows of D, then the per-token sum over K.
// FP4 tiles: an MMA's k range must stay inside one 1×32 scale block, so lane (g, t) feeds k32 block j with
// its word j·4+t of rows g and g+8 (8 values), re-encoded as e4m3 (block_scale.cuh): even elements go to
// the MMA's first k half, odd ones to the second, and the staged activations are read with the same byte
// permutation (prmt), which leaves the dot product unchanged.
#include "backend/cuda/block_scale.cuh"
#include "backend/cuda/block_scan.cuh"
#include "backend/cuda/mma.cuh"
#include "backend/cuda/moe_experts.h"

namespace baleen::cuda {
namespace {

constexpr int kBlock = 128;
constexpr int kSmemRowPad = 32;  // a half-warp's 8-byte loads of 4 token rows land in distinct banks
constexpr int kGateUpWarps = 8;  // 128 rows of F: the block the SwiGLU output is requantized over
constexpr int kDownWarps = 4;

size_t align256(size_t n) {
  return (n + 255) / 256 * 256;
}

struct MoeWorkspace {
  int32_t* offsets = nullptr;  // [E+1] start of each expert's run in `order`
  int32_t* order = nullptr;    // [slots] slot ids (t·K + k) grouped by expert, ascending within one
  int32_t* active = nullptr;   // [E] experts with at least one slot, ascending
  int32_t* active_count = nullptr;
  uint8_t* h_data = nullptr;  // [slots, inter] SwiGLU output as e4m3, in `order`
  float* h_scales = nullptr;  // [slots, inter/128]
  float* y = nullptr;         // [slots, hidden] weighted expert outputs, in slot order
};

MoeWorkspace carve(void* base, const DeviceRoutes& r, const Fp4ExpertBank& bank, size_t* total) {
  const auto slots = static_cast<size_t>(r.tokens * r.k);
  auto* p = static_cast<uint8_t*>(base);
  size_t at = 0;
  auto take = [&](size_t bytes) {
    uint8_t* q = p ? p + at : nullptr;
    at += align256(bytes);
    return q;
  };
  MoeWorkspace w;
  w.offsets = reinterpret_cast<int32_t*>(take((bank.experts + 1) * sizeof(int32_t)));
  w.order = reinterpret_cast<int32_t*>(take(slots * sizeof(int32_t)));
  w.active = reinterpret_cast<int32_t*>(take(bank.experts * sizeof(int32_t)));
  w.active_count = reinterpret_cast<int32_t*>(take(sizeof(int32_t)));
  w.h_data = take(slots * bank.inter);
  w.h_scales = reinterpret_cast<float*>(take(slots * (bank.inter / kBlock) * sizeof(float)));
  w.y = reinterpret_cast<float*>(take(slots * bank.hidden * sizeof(float)));
  *total = at;
  return w;
}

__device__ __forceinline__ bool valid_expert(int32_t e, int64_t experts) {
  return e >= 0 && e < experts;
}

__global__ void __launch_bounds__(1024) group_routes_kernel(DeviceRoutes r, int experts, MoeWorkspace ws) {
  __shared__ int counts[kMoeMaxExperts], starts[kMoeMaxExperts], chosen[kMoeMaxSlots], warp_sums[32];
  const int slots = static_cast<int>(r.tokens * r.k);
  for (int e = threadIdx.x; e < experts; e += blockDim.x) counts[e] = 0;
  for (int i = threadIdx.x; i < slots; i += blockDim.x) chosen[i] = r.experts[i];
  __syncthreads();
  for (int i = threadIdx.x; i < slots; i += blockDim.x)
    if (valid_expert(chosen[i], experts)) atomicAdd(&counts[chosen[i]], 1);
  __syncthreads();
  const int e = threadIdx.x;
  const int c = e < experts ? counts[e] : 0;
  int total = 0;
  const int start = block_exclusive_scan(c, warp_sums, &total);
  if (e < experts) starts[e] = ws.offsets[e] = start;
  if (e == 0) ws.offsets[experts] = total;
  const int rank = block_exclusive_scan(c > 0 ? 1 : 0, warp_sums, &total);
  if (c > 0) ws.active[rank] = e;
  if (e == 0) *ws.active_count = total;
  __syncthreads();
  // Stable grouping: a slot's place in its expert's run is the number of earlier slots routed there.
  for (int i = threadIdx.x; i < slots; i += blockDim.x) {
    const int x = chosen[i];
    if (!valid_expert(x, experts)) continue;
    int before = 0;
    for (int j = 0; j < i; ++j) before += chosen[j] == x;
    ws.order[starts[x] + before] = i;
  }
}

// Copies kTokens rows of FP8 codes [·, cols] and their scales to shared memory; row_of(tok) < 0: zeros.
template <int kTokens, typename RowOf>
__device__ void stage_rows(const uint8_t* codes, const float* scales, int64_t scale_row_stride, int64_t cols,
                           RowOf row_of, uint8_t* xs, int xs_stride, float* sx) {
  const int vecs = static_cast<int>(cols / 16), blocks = static_cast<int>(cols / kBlock);
  for (int i = threadIdx.x; i < kTokens * vecs; i += blockDim.x) {
    const int tok = i / vecs, c = i % vecs;
    const int64_t row = row_of(tok);
    uint4 v = make_uint4(0, 0, 0, 0);
    if (row >= 0) v = *reinterpret_cast<const uint4*>(codes + row * cols + c * 16);
    *reinterpret_cast<uint4*>(xs + tok * xs_stride + c * 16) = v;
  }
  for (int i = threadIdx.x; i < kTokens * blocks; i += blockDim.x) {
    const int tok = i / blocks, b = i % blocks;
    const int64_t row = row_of(tok);
    sx[i] = row >= 0 ? scales[row * scale_row_stride + b] : 0.0f;
  }
}

// One 128-wide K step of rows g and g+8 of an FP4 matrix, as lane (g, t) holds it.
struct Fp4Step {
  uint32_t w[2][4];  // [row g, g+8][k32 block j]: word j·4+t of the step
  uint32_t s[2];     // the 4 ue8m0 scales of the step's blocks
};

// Lane pointers into an FP4 matrix for rows (row0+g, row0+g+8).
struct Fp4Lane {
  const uint32_t* data;    // row0+g's words, + t
  const uint32_t* scales;  // row0+g's scale words
  int64_t row_words, row_scale_words;

  __device__ Fp4Lane(const Fp4Matrix& m, int64_t row0, int64_t cols, int g, int t)
      : data(reinterpret_cast<const uint32_t*>(m.data) + (row0 + g) * (cols / 8) + t),
        scales(reinterpret_cast<const uint32_t*>(m.scales) + (row0 + g) * (cols / kBlock)),
        row_words(cols / 8),
        row_scale_words(cols / kBlock) {}

  __device__ __forceinline__ void load(int kb, Fp4Step& st) const {
    const uint32_t* p = data + kb * 16;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      st.w[0][j] = __ldg(p + j * 4);
      st.w[1][j] = __ldg(p + 8 * row_words + j * 4);
    }
    st.s[0] = __ldg(scales + kb);
    st.s[1] = __ldg(scales + 8 * row_scale_words + kb);
  }
};

// acc[n] += this step's 16 rows × token tile n; x_lane = xs + g·xs_stride + kb·128 + t·8, sx_kb = sx + kb.
template <int kTiles>
__device__ __forceinline__ void fp4_step_mma(const Fp4Step& st, const uint8_t* x_lane, int xs_stride,
                                             const float* sx_kb, int sx_stride, int t,
                                             float (&acc)[kTiles][4]) {
  float xs0[kTiles], xs1[kTiles];
#pragma unroll
  for (int n = 0; n < kTiles; ++n) {
    xs0[n] = sx_kb[(n * 8 + 2 * t) * sx_stride];
    xs1[n] = sx_kb[(n * 8 + 2 * t + 1) * sx_stride];
  }
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    const uint32_t a[4] = {e2m1_low_nibbles_to_e4m3(st.w[0][j]), e2m1_low_nibbles_to_e4m3(st.w[1][j]),
                           e2m1_high_nibbles_to_e4m3(st.w[0][j]), e2m1_high_nibbles_to_e4m3(st.w[1][j])};
    const float s_g = ue8m0_to_float((st.s[0] >> (8 * j)) & 0xFF) * kE2m1AsE4m3Scale;
    const float s_g8 = ue8m0_to_float((st.s[1] >> (8 * j)) & 0xFF) * kE2m1AsE4m3Scale;
#pragma unroll
    for (int n = 0; n < kTiles; ++n) {
      const uint2 xv = *reinterpret_cast<const uint2*>(x_lane + n * 8 * xs_stride + j * 32);
      const uint32_t b[2] = {__byte_perm(xv.x, xv.y, 0x6420), __byte_perm(xv.x, xv.y, 0x7531)};
      float c[4] = {};
      mma_e4m3_16x8x32(c, a, b);
      acc[n][0] += c[0] * (s_g * xs0[n]);
      acc[n][1] += c[1] * (s_g * xs1[n]);
      acc[n][2] += c[2] * (s_g8 * xs0[n]);
      acc[n][3] += c[3] * (s_g8 * xs1[n]);
    }
  }
}

__device__ __forceinline__ float swiglu(float gate, float up, float limit) {
  if (limit > 0) {
    gate = fminf(gate, limit);
    up = fminf(fmaxf(up, -limit), limit);
  }
  return gate / (1.0f + expf(-gate)) * up;
}

template <int kTiles>
__global__ void __launch_bounds__(kGateUpWarps * 32)
    expert_gate_up_kernel(Fp8Activations x, DeviceRoutes r, Fp4ExpertBank bank, float limit,
                          MoeWorkspace ws) {
  constexpr int kTokens = kTiles * 8;
  if (static_cast<int>(blockIdx.y) >= *ws.active_count) return;
  const int e = ws.active[blockIdx.y], begin = ws.offsets[e], count = ws.offsets[e + 1] - begin;
  const int hidden = static_cast<int>(bank.hidden), xs_stride = hidden + kSmemRowPad,
            sx_stride = hidden / kBlock;
  extern __shared__ __align__(16) uint8_t smem[];
  uint8_t* xs = smem;
  float* sx = reinterpret_cast<float*>(smem + kTokens * xs_stride);
  float* hs = sx + kTokens * sx_stride;  // [kTokens][kBlock + 4] SwiGLU outputs of this CTA's 128 rows
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const int64_t f0 = int64_t{blockIdx.x} * kBlock + warp * 16;
  const Fp4Lane w1(bank.w1[e], f0, hidden, g, t), w3(bank.w3[e], f0, hidden, g, t);
  for (int chunk = 0; chunk < count; chunk += kTokens) {
    const int n_tok = min(kTokens, count - chunk);
    stage_rows<kTokens>(
        x.data, x.scales, x.scale_row_stride, hidden,
        [&](int tok) { return tok < n_tok ? int64_t{ws.order[begin + chunk + tok]} / r.k : int64_t{-1}; }, xs,
        xs_stride, sx);
    __syncthreads();
    float gate[kTiles][4] = {}, up[kTiles][4] = {};
    Fp4Step c1, c3, n1, n3;
    w1.load(0, c1);
    w3.load(0, c3);
    for (int kb = 0; kb < sx_stride; ++kb) {
      if (kb + 1 < sx_stride) w1.load(kb + 1, n1), w3.load(kb + 1, n3);
      const uint8_t* x_lane = xs + g * xs_stride + kb * kBlock + t * 8;
      fp4_step_mma<kTiles>(c1, x_lane, xs_stride, sx + kb, sx_stride, t, gate);
      fp4_step_mma<kTiles>(c3, x_lane, xs_stride, sx + kb, sx_stride, t, up);
      c1 = n1;
      c3 = n3;
    }
#pragma unroll
    for (int n = 0; n < kTiles; ++n) {
      const int tok = n * 8 + 2 * t, row = warp * 16 + g;
      hs[tok * (kBlock + 4) + row] = swiglu(gate[n][0], up[n][0], limit);
      hs[(tok + 1) * (kBlock + 4) + row] = swiglu(gate[n][1], up[n][1], limit);
      hs[tok * (kBlock + 4) + row + 8] = swiglu(gate[n][2], up[n][2], limit);
      hs[(tok + 1) * (kBlock + 4) + row + 8] = swiglu(gate[n][3], up[n][3], limit);
    }
    __syncthreads();
    for (int tok = warp; tok < n_tok; tok += kGateUpWarps) {
      const float4 v = *reinterpret_cast<const float4*>(hs + tok * (kBlock + 4) + lane * 4);
      float scale = 0;
      const uint32_t codes = quantize_block_warp(v, &scale);
      const int64_t pos = begin + chunk + tok;
      *reinterpret_cast<uint32_t*>(ws.h_data + pos * bank.inter + blockIdx.x * kBlock + lane * 4) = codes;
      if (lane == 0) ws.h_scales[pos * (bank.inter / kBlock) + blockIdx.x] = scale;
    }
    __syncthreads();
  }
}

template <int kTiles>
__global__ void __launch_bounds__(kDownWarps * 32)
    expert_down_kernel(DeviceRoutes r, Fp4ExpertBank bank, MoeWorkspace ws) {
  constexpr int kTokens = kTiles * 8;
  if (static_cast<int>(blockIdx.y) >= *ws.active_count) return;
  const int e = ws.active[blockIdx.y], begin = ws.offsets[e], count = ws.offsets[e + 1] - begin;
  const int inter = static_cast<int>(bank.inter), xs_stride = inter + kSmemRowPad, sx_stride = inter / kBlock;
  extern __shared__ __align__(16) uint8_t smem[];
  uint8_t* xs = smem;
  float* sx = reinterpret_cast<float*>(smem + kTokens * xs_stride);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const int64_t row0 = int64_t{blockIdx.x} * (kDownWarps * 16) + warp * 16;
  const Fp4Lane w2(bank.w2[e], row0, inter, g, t);
  for (int chunk = 0; chunk < count; chunk += kTokens) {
    const int n_tok = min(kTokens, count - chunk);
    stage_rows<kTokens>(
        ws.h_data, ws.h_scales, sx_stride, inter,
        [&](int tok) { return tok < n_tok ? int64_t{begin + chunk + tok} : int64_t{-1}; }, xs, xs_stride, sx);
    __syncthreads();
    float acc[kTiles][4] = {};
    Fp4Step cur, next;
    w2.load(0, cur);
    for (int kb = 0; kb < sx_stride; ++kb) {
      if (kb + 1 < sx_stride) w2.load(kb + 1, next);
      fp4_step_mma<kTiles>(cur, xs + g * xs_stride + kb * kBlock + t * 8, xs_stride, sx + kb, sx_stride, t,
                           acc);
      cur = next;
    }
#pragma unroll
    for (int n = 0; n < kTiles; ++n) {
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int tok = n * 8 + 2 * t + half;
        if (tok >= n_tok) continue;
        const int slot = ws.order[begin + chunk + tok];
        const float w = r.weights[slot];
        ws.y[int64_t{slot} * bank.hidden + row0 + g] = w * acc[n][half];
        ws.y[int64_t{slot} * bank.hidden + row0 + g + 8] = w * acc[n][2 + half];
      }
    }
    __syncthreads();
  }
}

// out[t] += Σ_k y[t·K + k] in k order (slots with an invalid expert contribute nothing).
__global__ void combine_kernel(DeviceRoutes r, int64_t experts, const float* y, int64_t hidden, float* out,
                               int64_t ld_out) {
  const int64_t t = blockIdx.y, o = (int64_t{blockIdx.x} * blockDim.x + threadIdx.x) * 4;
  if (o >= hidden) return;
  float4 s = make_float4(0, 0, 0, 0);
  for (int64_t k = 0; k < r.k; ++k) {
    const int64_t slot = t * r.k + k;
    if (!valid_expert(r.experts[slot], experts)) continue;
    const float4 v = *reinterpret_cast<const float4*>(y + slot * hidden + o);
    s.x += v.x, s.y += v.y, s.z += v.z, s.w += v.w;
  }
  float4* dst = reinterpret_cast<float4*>(out + t * ld_out + o);
  float4 d = *dst;
  d.x += s.x, d.y += s.y, d.z += s.z, d.w += s.w;
  *dst = d;
}

template <int kTiles>
cudaError_t launch_experts(const Fp8Activations& x, const DeviceRoutes& r, const Fp4ExpertBank& bank,
                           float limit, const MoeWorkspace& ws, cudaStream_t stream) {
  constexpr int kTokens = kTiles * 8;
  const auto max_active = static_cast<unsigned>(std::min<int64_t>(bank.experts, r.tokens * r.k));
  const size_t gu_smem = kTokens * (bank.hidden + kSmemRowPad) +
                         kTokens * (bank.hidden / kBlock) * sizeof(float) +
                         kTokens * (kBlock + 4) * sizeof(float);
  const size_t down_smem =
      kTokens * (bank.inter + kSmemRowPad) + kTokens * (bank.inter / kBlock) * sizeof(float);
  cudaError_t e = cudaFuncSetAttribute(
      expert_gate_up_kernel<kTiles>, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(gu_smem));
  if (e == cudaSuccess)
    e = cudaFuncSetAttribute(expert_down_kernel<kTiles>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             static_cast<int>(down_smem));
  if (e != cudaSuccess) return e;
  expert_gate_up_kernel<kTiles>
      <<<dim3(bank.inter / kBlock, max_active), kGateUpWarps * 32, gu_smem, stream>>>(x, r, bank, limit, ws);
  expert_down_kernel<kTiles>
      <<<dim3(bank.hidden / (kDownWarps * 16), max_active), kDownWarps * 32, down_smem, stream>>>(r, bank,
                                                                                                  ws);
  return cudaGetLastError();
}

}  // namespace

size_t moe_experts_workspace_bytes(const DeviceRoutes& routes, const Fp4ExpertBank& bank) {
  size_t total = 0;
  carve(nullptr, routes, bank, &total);
  return total;
}

cudaError_t moe_experts_decode(const Fp8Activations& x, const DeviceRoutes& routes, const Fp4ExpertBank& bank,
                               float limit, float* out, int64_t ld_out, void* workspace,
                               size_t workspace_bytes, cudaStream_t stream) {
  const int64_t slots = routes.tokens * routes.k;
  if (slots < 1 || slots > kMoeMaxSlots || bank.experts < 1 || bank.experts > kMoeMaxExperts ||
      x.rows != routes.tokens || x.cols != bank.hidden || bank.hidden % kBlock != 0 ||
      bank.inter % kBlock != 0 || x.scale_block_stride != 1 || ld_out % 4 != 0 || workspace == nullptr)
    return cudaErrorInvalidValue;
  size_t need = 0;
  const MoeWorkspace ws = carve(workspace, routes, bank, &need);
  if (workspace_bytes < need) return cudaErrorInvalidValue;
  group_routes_kernel<<<1, 1024, 0, stream>>>(routes, static_cast<int>(bank.experts), ws);
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) return e;
  switch ((std::min<int64_t>(routes.tokens, 32) + 7) / 8) {
    case 1:
      e = launch_experts<1>(x, routes, bank, limit, ws, stream);
      break;
    case 2:
      e = launch_experts<2>(x, routes, bank, limit, ws, stream);
      break;
    case 3:
      e = launch_experts<3>(x, routes, bank, limit, ws, stream);
      break;
    default:
      e = launch_experts<4>(x, routes, bank, limit, ws, stream);
      break;
  }
  if (e != cudaSuccess) return e;
  const dim3 grid(static_cast<unsigned>((bank.hidden / 4 + 255) / 256), static_cast<unsigned>(routes.tokens));
  combine_kernel<<<grid, 256, 0, stream>>>(routes, bank.experts, ws.y, bank.hidden, out, ld_out);
  return cudaGetLastError();
}

}  // namespace baleen::cuda
