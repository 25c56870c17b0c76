#include "backend/cuda/weight_matmul.h"

#include "backend/cuda/weight_values.cuh"

namespace baleen::cuda {
namespace {

constexpr int kWarps = 8;       // weight rows per block, one a warp
constexpr int kTokenTile = 8;   // tokens a warp multiplies each weight value with

// Accumulates W row r · x rows [t0, t0 + n) over columns [0, cols) (x's column offset applied by the caller)
// into acc; lanes take columns lane, lane + 32, ….
__device__ inline void row_products(const DeviceWeight& w, int64_t r, const float* x, int64_t ldx, int n,
                                    int64_t cols, float (&acc)[kTokenTile]) {
  const int lane = threadIdx.x % 32;
  for (int64_t c = lane; c < cols; c += 32) {
    const float wv = weight_value(w, r, c);
#pragma unroll
    for (int i = 0; i < kTokenTile; ++i) {
      if (i < n) acc[i] = fmaf(wv, x[i * ldx + c], acc[i]);
    }
  }
#pragma unroll
  for (int i = 0; i < kTokenTile; ++i) acc[i] = warp_sum(acc[i]);
}

__global__ void weight_matmul_kernel(const float* __restrict__ x, int64_t ldx, int64_t tokens, DeviceWeight w,
                                     int64_t out_g, int64_t in_g, float* __restrict__ y, int64_t ldy) {
  const int64_t o = int64_t{blockIdx.x} * kWarps + threadIdx.x / 32, g = blockIdx.z;
  const int64_t t0 = int64_t{blockIdx.y} * kTokenTile;
  if (o >= out_g) return;
  const int n = static_cast<int>(min(int64_t{kTokenTile}, tokens - t0));
  float acc[kTokenTile] = {};
  row_products(w, g * out_g + o, x + t0 * ldx + g * in_g, ldx, n, in_g, acc);
  if (threadIdx.x % 32 == 0) {
    for (int i = 0; i < n; ++i) y[(t0 + i) * ldy + g * out_g + o] = acc[i];
  }
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

// hidden[m, f] = swiglu(w1·x, w3·x) for one member per blockIdx.y, a row f per warp.
__global__ void expert_hidden_kernel(const float* __restrict__ x, int64_t ldx, int64_t tokens,
                                     const int32_t* __restrict__ experts, int64_t k, DeviceExperts e, float limit,
                                     float* __restrict__ hidden) {
  const int64_t m = blockIdx.y, f = int64_t{blockIdx.x} * kWarps + threadIdx.x / 32;
  int64_t t;
  DeviceWeight w1, w2, w3;
  if (f >= e.inter || !member_weights(e, experts, tokens, k, m, t, w1, w2, w3)) return;
  float g[kTokenTile] = {}, u[kTokenTile] = {};
  row_products(w1, f, x + t * ldx, ldx, 1, e.hidden, g);
  row_products(w3, f, x + t * ldx, ldx, 1, e.hidden, u);
  if (threadIdx.x % 32 == 0) hidden[m * e.inter + f] = clamp_silu_product(g[0], u[0], limit);
}

// ys[m, c] = w2 row c · hidden[m].
__global__ void expert_down_kernel(int64_t tokens, const int32_t* __restrict__ experts, int64_t k, DeviceExperts e,
                                   const float* __restrict__ hidden, float* __restrict__ ys) {
  const int64_t m = blockIdx.y, c = int64_t{blockIdx.x} * kWarps + threadIdx.x / 32;
  int64_t t;
  DeviceWeight w1, w2, w3;
  if (c >= e.hidden || !member_weights(e, experts, tokens, k, m, t, w1, w2, w3)) return;
  float acc[kTokenTile] = {};
  row_products(w2, c, hidden + m * e.inter, e.inter, 1, e.inter, acc);
  if (threadIdx.x % 32 == 0) ys[m * e.hidden + c] = acc[0];
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

}  // namespace

cudaError_t weight_matmul(const float* x, int64_t ldx, int64_t tokens, const DeviceWeight& w, int64_t groups,
                          float* y, int64_t ldy, cudaStream_t stream) {
  if (tokens <= 0) return cudaSuccess;
  if (groups <= 0 || w.rows % groups != 0) return cudaErrorInvalidValue;
  const int64_t out_g = w.rows / groups;
  const dim3 grid(blocks(out_g, kWarps), blocks(tokens, kTokenTile), static_cast<unsigned>(groups));
  weight_matmul_kernel<<<grid, kWarps * 32, 0, stream>>>(x, ldx, tokens, w, out_g, w.cols, y, ldy);
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
  expert_hidden_kernel<<<dim3(blocks(e.inter, kWarps), static_cast<unsigned>(members)), kWarps * 32, 0, stream>>>(
      x, ldx, tokens, experts, k, e, limit, hidden);
  expert_down_kernel<<<dim3(blocks(e.hidden, kWarps), static_cast<unsigned>(members)), kWarps * 32, 0, stream>>>(
      tokens, experts, k, e, hidden, ys);
  // A skipped member leaves its ys row unwritten; the combine never reads it (out-of-range routes are skipped).
  expert_combine_kernel<<<dim3(blocks(e.hidden, 128), static_cast<unsigned>(tokens)), 128, 0, stream>>>(
      tokens, experts, weights, k, e.experts, e.hidden, ys, out, ldo);
  return cudaGetLastError();
}

}  // namespace baleen::cuda
