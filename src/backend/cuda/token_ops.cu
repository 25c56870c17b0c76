// The token-wise kernels behind token_ops.h, each a port of its CPU kernel (backend/cpu): one block per row
// (or per token), a block-wide sum where the CPU takes a dot product. Where the CPU's float operations can
// be repeated exactly (the Hadamard butterflies, the rope rotation, the codec, copies) they are, so those
// ops are bit-identical; sums over a row differ only in their order.
#include <algorithm>
#include <cmath>

#include "backend/cuda/kv_codec.cuh"
#include "backend/cuda/token_kernels.h"

namespace baleen::cuda::kernels {
namespace {

constexpr unsigned kFullMask = 0xffffffffu;

template <typename T>
__device__ __forceinline__ T* row_of(const Rows<T>& m, int64_t i) {
  return m.data + i * m.stride;
}

// Threads for a block that gives each about `per_thread` of n elements: a multiple of 32 in [32, 1024].
int threads_for(int64_t n, int64_t per_thread) {
  const int64_t warps = (n + 32 * per_thread - 1) / (32 * per_thread);
  return static_cast<int>(32 * std::min<int64_t>(32, std::max<int64_t>(1, warps)));
}

// Σ v over the block (blockDim.x a multiple of 32), returned to every thread; scratch: 32 shared floats.
__device__ float block_sum(float v, float* scratch) {
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(kFullMask, v, o);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  __syncthreads();  // a previous call's readers are done with scratch
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < warps ? scratch[lane] : 0.0f;
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}

template <typename T>
bool valid(const Rows<T>& m) {
  return m.rows >= 0 && m.cols >= 0 && (m.rows <= 1 || m.stride >= m.cols) && (m.rows == 0 || m.data);
}

// ---- embed, gather_rows ----

__global__ void embed_kernel(const int32_t* tokens, const void* table, bool bf16, int64_t d, int64_t streams,
                             Rows<float> out) {
  const int64_t token = tokens[blockIdx.x];
  float* o = row_of(out, blockIdx.x);
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
    const float v = bf16 ? __uint_as_float(uint32_t{static_cast<const uint16_t*>(table)[token * d + i]} << 16)
                         : static_cast<const float*>(table)[token * d + i];
    for (int64_t j = 0; j < streams; ++j) o[j * d + i] = v;
  }
}

__global__ void gather_rows_kernel(Rows<const float> src, const int32_t* rows, Rows<float> dst) {
  const float* s = row_of(src, rows[blockIdx.x]);
  float* o = row_of(dst, blockIdx.x);
  for (int64_t i = threadIdx.x; i < dst.cols; i += blockDim.x) o[i] = s[i];
}

// ---- rms_norm, rope, hadamard, kv_round_trip ----

// Every element is read by the thread that writes it, after the sum: x and y may alias.
__global__ void rms_norm_kernel(Rows<const float> x, const float* weight, float eps, Rows<float> y) {
  __shared__ float scratch[32];
  const float* in = row_of(x, blockIdx.x);
  float* out = row_of(y, blockIdx.x);
  float ss = 0;
  for (int64_t i = threadIdx.x; i < x.cols; i += blockDim.x) ss = fmaf(in[i], in[i], ss);
  const float inv = 1.0f / sqrtf(block_sum(ss, scratch) / static_cast<float>(x.cols) + eps);
  for (int64_t i = threadIdx.x; i < x.cols; i += blockDim.x)
    out[i] = weight ? weight[i] * (in[i] * inv) : in[i] * inv;
}

// cos/sin in float64 of the fp32 angle, rounded to fp32, and the rotation with separate roundings (the CPU
// build does not contract a·c − b·s into an FMA; __fmul_rn and friends keep nvcc from doing so).
__global__ void rope_kernel(Rows<float> x, int64_t head_dim, const int64_t* positions, const float* inv_freq,
                            int pairs, bool inverse) {
  __shared__ float cs[kMaxRopePairs], sn[kMaxRopePairs];
  const float position = static_cast<float>(positions[blockIdx.x]);
  for (int i = threadIdx.x; i < pairs; i += blockDim.x) {
    double s = 0, c = 0;
    sincos(static_cast<double>(__fmul_rn(inv_freq[i], position)), &s, &c);
    cs[i] = static_cast<float>(c);
    sn[i] = static_cast<float>(inverse ? -s : s);
  }
  __syncthreads();
  float* row = row_of(x, blockIdx.x) + head_dim - 2 * pairs;
  const int64_t heads = x.cols / head_dim;
  for (int64_t k = threadIdx.x; k < heads * pairs; k += blockDim.x) {
    const int64_t h = k / pairs, i = k % pairs;
    float* r = row + h * head_dim + 2 * i;
    const float a = r[0], b = r[1];
    r[0] = __fsub_rn(__fmul_rn(a, cs[i]), __fmul_rn(b, sn[i]));
    r[1] = __fadd_rn(__fmul_rn(b, cs[i]), __fmul_rn(a, sn[i]));
  }
}

// The CPU's butterflies stage by stage (each output of a stage is the same a + b or a − b), then the scale.
__global__ void hadamard_kernel(Rows<float> x, float scale) {
  extern __shared__ float v[];
  const int n = static_cast<int>(x.cols);
  float* row = row_of(x, blockIdx.x);
  for (int i = threadIdx.x; i < n; i += blockDim.x) v[i] = row[i];
  for (int len = 1; len < n; len <<= 1) {
    __syncthreads();
    for (int b = threadIdx.x; b < n / 2; b += blockDim.x) {
      const int j = (b / len) * 2 * len + b % len;
      const float p = v[j], q = v[j + len];
      v[j] = p + q;
      v[j + len] = p - q;
    }
  }
  __syncthreads();
  for (int i = threadIdx.x; i < n; i += blockDim.x) row[i] = v[i] * scale;
}

// The row encoded into shared memory (data, then scales), then decoded over itself.
__global__ void kv_round_trip_kernel(DeviceCodec c, Rows<float> rows) {
  extern __shared__ uint8_t stored[];
  float* row = row_of(rows, blockIdx.x);
  encode_row_block(c, row, stored, stored + c.data_bytes);
  for (int i = threadIdx.x; i < c.dim; i += blockDim.x)
    row[i] = decode_element(c, stored, stored + c.data_bytes, i);
}

// ---- swiglu, moe_route ----

// cpu::swiglu's clamp_silu_product: std::min(g, L) and std::clamp(u, −L, L) spelled out, so NaNs go where
// they go on the CPU.
__global__ void swiglu_kernel(Rows<float> gate, Rows<const float> up, float limit) {
  float* g = row_of(gate, blockIdx.x);
  const float* u = row_of(up, blockIdx.x);
  for (int64_t i = threadIdx.x; i < gate.cols; i += blockDim.x) {
    float a = g[i], b = u[i];
    if (limit > 0) {
      a = limit < a ? limit : a;
      b = b < -limit ? -limit : (limit < b ? limit : b);
    }
    g[i] = a / (1.0f + expf(-a)) * b;
  }
}

// Whether expert i2 with biased score v2 ranks before the current pick (v, i): higher, or equal and lower.
__device__ __forceinline__ bool ranks_before(float v2, int i2, float v, int i) {
  return i2 >= 0 && (i < 0 || v2 > v || (v2 == v && i2 < i));
}

// The block's best (v, i) among every thread's candidate; returned to thread 0. scratch: 32 + 32 slots.
__device__ void block_best(float& v, int& i, float* scratch_v, int* scratch_i) {
  for (int o = 16; o > 0; o /= 2) {
    const float v2 = __shfl_xor_sync(kFullMask, v, o);
    const int i2 = __shfl_xor_sync(kFullMask, i, o);
    if (ranks_before(v2, i2, v, i)) v = v2, i = i2;
  }
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  if (lane == 0) scratch_v[warp] = v, scratch_i[warp] = i;
  __syncthreads();
  if (warp == 0) {
    v = lane < warps ? scratch_v[lane] : 0.0f;
    i = lane < warps ? scratch_i[lane] : -1;
    for (int o = 16; o > 0; o /= 2) {
      const float v2 = __shfl_xor_sync(kFullMask, v, o);
      const int i2 = __shfl_xor_sync(kFullMask, i, o);
      if (ranks_before(v2, i2, v, i)) v = v2, i = i2;
    }
  }
}

// One token a block: scores, then K rounds of the block's best untaken expert (the order partial_sort with
// the CPU's comparator gives), then the weights in the CPU's float operations.
__global__ void moe_route_kernel(Rows<const float> logits, const float* bias, const int32_t* tid2eid,
                                 const int32_t* tokens, float scaling, Rows<int32_t> experts,
                                 Rows<float> weights) {
  __shared__ float score[kMaxExperts], biased[kMaxExperts], scratch_v[32];
  __shared__ bool taken[kMaxExperts];
  __shared__ int scratch_i[32], chosen[kMaxTopK];
  const int n_experts = static_cast<int>(logits.cols), k = static_cast<int>(experts.cols);
  const float* l = row_of(logits, blockIdx.x);
  for (int e = threadIdx.x; e < n_experts; e += blockDim.x) {
    const float x = l[e];
    const float s = sqrtf(x > 20.0f ? x : log1pf(expf(x)));  // softplus with torch's threshold
    score[e] = s;
    biased[e] = bias ? s + bias[e] : s;
    taken[e] = false;
  }
  if (tid2eid && static_cast<int>(threadIdx.x) < k)
    chosen[threadIdx.x] = tid2eid[int64_t{tokens[blockIdx.x]} * k + threadIdx.x];
  __syncthreads();
  for (int r = 0; r < k && !tid2eid; ++r) {
    float v = 0;
    int i = -1;
    for (int e = threadIdx.x; e < n_experts; e += blockDim.x)
      if (!taken[e] && ranks_before(biased[e], e, v, i)) v = biased[e], i = e;
    block_best(v, i, scratch_v, scratch_i);
    if (threadIdx.x == 0) chosen[r] = i, taken[i] = true;
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    float sum = 0;
    for (int r = 0; r < k; ++r) sum += score[chosen[r]];
    for (int r = 0; r < k; ++r) {
      row_of(experts, blockIdx.x)[r] = chosen[r];
      row_of(weights, blockIdx.x)[r] = score[chosen[r]] / (sum + 1e-20f) * scaling;
    }
  }
}

// ---- mHC: hc_pre, hc_post, hc_head ----

constexpr int kHcTokens = 4;  // tokens a block of hc_dots_kernel reads together
constexpr int kMaxMixes = static_cast<int>((2 + kMaxStreams) * kMaxStreams);

// Row j of [fn; X_t] dotted with token t's streams X_t for kHcTokens tokens and kMixes consecutive j:
// dots[t][j] = fn_j·X_t for j < mixes and dots[t][mixes] = X_t·X_t (the RMSNorm's sum of squares). The dots
// go to the start of the sublayer input's row (the finishing kernel reads them before it writes the row).
template <int kMixes>
__global__ void hc_dots_kernel(Rows<const float> streams, const float* fn, int mixes, Rows<float> dots) {
  __shared__ float scratch[32];
  const int64_t len = streams.cols, t0 = int64_t{blockIdx.y} * kHcTokens;
  const int j0 = static_cast<int>(blockIdx.x) * kMixes;
  const int tokens = static_cast<int>(min(int64_t{kHcTokens}, streams.rows - t0));
  const float* x[kHcTokens];
  for (int t = 0; t < kHcTokens; ++t) x[t] = row_of(streams, t0 + min(t, tokens - 1));
  float acc[kHcTokens][kMixes] = {};
  for (int64_t i = threadIdx.x; i < len; i += blockDim.x) {
    float v[kHcTokens];
    for (int t = 0; t < kHcTokens; ++t) v[t] = x[t][i];
    for (int m = 0; m < kMixes; ++m) {
      const int j = j0 + m;
      if (j > mixes) break;
      const bool self = j == mixes;
      const float w = self ? 0.0f : fn[j * len + i];
      for (int t = 0; t < kHcTokens; ++t) acc[t][m] = fmaf(self ? v[t] : w, v[t], acc[t][m]);
    }
  }
  for (int t = 0; t < kHcTokens; ++t) {
    for (int m = 0; m < kMixes && j0 + m <= mixes; ++m) {
      const float s = block_sum(acc[t][m], scratch);
      if (threadIdx.x == 0 && t < tokens) row_of(dots, t0 + t)[j0 + m] = s;
    }
  }
}

__device__ __forceinline__ float sigmoid(float v) {
  return 1.0f / (1.0f + expf(-v));
}

// cpu::hyper_connections' sinkhorn<float>: softmax over rows + eps, columns / (sum + eps), then (iters − 1) ×
// (rows, columns). c [n, n] in shared memory; thread l < n·n owns c[l] (v: its value, equal to c[l] on entry)
// and takes its line's sum itself in the line's order, so each value gets the one-thread loop's operations
// in its order. Every thread of the block calls it (it syncs); returns thread l's final value.
__device__ float sinkhorn(float* c, float v, int n, int64_t iters, float eps) {
  const int l = threadIdx.x, j = l / n, k = l % n;
  const bool mine = l < n * n;
  float e = 0, s = 0;
  if (mine) {
    float m = c[j * n];
    for (int b = 1; b < n; ++b) m = fmaxf(m, c[j * n + b]);
    for (int b = 0; b < n; ++b) {
      const float eb = expf(c[j * n + b] - m);
      s += eb;
      if (b == k) e = eb;
    }
  }
  __syncthreads();
  if (mine) c[l] = v = e / s + eps;
  __syncthreads();
  for (int64_t phase = 0; phase < 2 * iters - 1; ++phase) {  // columns, then rows and columns in turn
    const bool rows = phase % 2 == 1;
    s = 0;
    if (mine)
      for (int b = 0; b < n; ++b) s += rows ? c[j * n + b] : c[b * n + k];
    __syncthreads();
    if (mine) c[l] = v = v / (s + eps);
    __syncthreads();
  }
  return v;
}

// x = Σ_j pre_j·X_j with the CPU's collapse (zero, then one FMA per stream in stream order).
__device__ void collapse(const float* flat, const float* pre, int n, int64_t d, float* x) {
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
    float s = 0;
    for (int j = 0; j < n; ++j) s = fmaf(pre[j], flat[j * d + i], s);
    x[i] = s;
  }
}

// One token a block: its mixes from the dots (scaled by the RMSNorm factor), pre/post/comb as split_mixes
// forms them (a thread per value), then the collapse.
__global__ void hc_pre_kernel(Rows<const float> streams, HcParams p, Rows<float> x, Rows<float> post,
                              Rows<float> comb) {
  __shared__ float mix[kMaxMixes + 1], pre[kMaxStreams];
  const int n = static_cast<int>(p.streams), mixes = (2 + n) * n;
  float* xt = row_of(x, blockIdx.x);
  for (int j = threadIdx.x; j <= mixes; j += blockDim.x) mix[j] = xt[j];
  __syncthreads();
  const float rs = 1.0f / sqrtf(mix[mixes] / static_cast<float>(n * p.hidden) + p.norm_eps);
  const int j = threadIdx.x;
  if (j < n) {
    pre[j] = sigmoid(mix[j] * rs * p.scale[0] + p.base[j]) + p.hc_eps;
    row_of(post, blockIdx.x)[j] = 2.0f * sigmoid(mix[n + j] * rs * p.scale[1] + p.base[n + j]);
  }
  float* c = mix + 2 * n;  // in place: thread j reads its mix before it writes its comb entry
  float v = 0;
  if (j < n * n) c[j] = v = c[j] * rs * p.scale[2] + p.base[2 * n + j];
  __syncthreads();
  v = sinkhorn(c, v, n, p.sinkhorn_iters, p.hc_eps);
  if (j < n * n) row_of(comb, blockIdx.x)[j] = v;
  collapse(row_of(streams, blockIdx.x), pre, n, p.hidden, xt);
}

__global__ void hc_head_kernel(Rows<const float> streams, HcParams p, Rows<float> y) {
  __shared__ float mix[kMaxStreams + 1], pre[kMaxStreams];
  const int n = static_cast<int>(p.streams);
  float* yt = row_of(y, blockIdx.x);
  for (int j = threadIdx.x; j <= n; j += blockDim.x) mix[j] = yt[j];
  __syncthreads();
  if (threadIdx.x == 0) {
    const float rs = 1.0f / sqrtf(mix[n] / static_cast<float>(n * p.hidden) + p.norm_eps);
    for (int j = 0; j < n; ++j) pre[j] = sigmoid(mix[j] * rs * p.scale[0] + p.base[j]) + p.hc_eps;
  }
  __syncthreads();
  collapse(row_of(streams, blockIdx.x), pre, n, p.hidden, yt);
}

// out_k = post_k·y + Σ_j C[j][k]·X_j as the CPU's (a product, then one FMA per stream); a thread owns one
// column i of every stream.
__global__ void hc_post_kernel(Rows<const float> y, Rows<const float> post, Rows<const float> comb,
                               Rows<const float> streams, Rows<float> out, int64_t chunks) {
  const int64_t t = blockIdx.x / chunks, d = y.cols;
  const int64_t i = (blockIdx.x % chunks) * blockDim.x + threadIdx.x;
  if (i >= d) return;
  const int n = static_cast<int>(post.cols);
  const float* flat = row_of(streams, t);
  const float* c = row_of(comb, t);
  float xs[kMaxStreams];
#pragma unroll
  for (int j = 0; j < kMaxStreams; ++j) xs[j] = j < n ? flat[j * d + i] : 0.0f;
  const float yi = row_of(y, t)[i];
#pragma unroll
  for (int k = 0; k < kMaxStreams; ++k) {
    if (k >= n) break;
    float o = row_of(post, t)[k] * yi;
#pragma unroll
    for (int j = 0; j < kMaxStreams; ++j)
      if (j < n) o = fmaf(c[j * n + k], xs[j], o);
    row_of(out, t)[k * d + i] = o;
  }
}

}  // namespace

cudaError_t embed(const int32_t* tokens, const void* table, bool bf16, int64_t d, int64_t streams,
                  Rows<float> out, cudaStream_t stream) {
  if (!valid(out) || streams < 1 || d < 1 || out.cols != streams * d) return cudaErrorInvalidValue;
  if (out.rows == 0) return cudaSuccess;
  embed_kernel<<<static_cast<unsigned>(out.rows), threads_for(d, 4), 0, stream>>>(tokens, table, bf16, d,
                                                                                  streams, out);
  return cudaGetLastError();
}

cudaError_t gather_rows(Rows<const float> src, const int32_t* rows, Rows<float> dst, cudaStream_t stream) {
  if (!valid(src) || !valid(dst) || src.cols != dst.cols) return cudaErrorInvalidValue;
  if (dst.rows == 0) return cudaSuccess;
  gather_rows_kernel<<<static_cast<unsigned>(dst.rows), threads_for(dst.cols, 4), 0, stream>>>(src, rows,
                                                                                               dst);
  return cudaGetLastError();
}

cudaError_t rms_norm(Rows<const float> x, const float* weight, float eps, Rows<float> y,
                     cudaStream_t stream) {
  if (!valid(x) || !valid(y) || x.rows != y.rows || x.cols != y.cols || x.cols < 1)
    return cudaErrorInvalidValue;
  if (x.rows == 0) return cudaSuccess;
  rms_norm_kernel<<<static_cast<unsigned>(x.rows), threads_for(x.cols, 8), 0, stream>>>(x, weight, eps, y);
  return cudaGetLastError();
}

cudaError_t rope(Rows<float> x, int64_t head_dim, const int64_t* positions, const float* inv_freq,
                 int64_t rope_dim, bool inverse, cudaStream_t stream) {
  if (!valid(x) || head_dim < 1 || x.cols % head_dim != 0 || rope_dim < 0 || rope_dim % 2 != 0 ||
      rope_dim > head_dim || rope_dim / 2 > kMaxRopePairs)
    return cudaErrorInvalidValue;
  if (x.rows == 0 || rope_dim == 0) return cudaSuccess;
  const int pairs = static_cast<int>(rope_dim / 2);
  rope_kernel<<<static_cast<unsigned>(x.rows), threads_for(x.cols / head_dim * pairs, 2), 0, stream>>>(
      x, head_dim, positions, inv_freq, pairs, inverse);
  return cudaGetLastError();
}

cudaError_t hadamard(Rows<float> x, cudaStream_t stream) {
  if (!valid(x) || x.cols < 1 || x.cols > kMaxHadamard || (x.cols & (x.cols - 1)) != 0)
    return cudaErrorInvalidValue;
  if (x.rows == 0) return cudaSuccess;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(x.cols)));  // as the CPU's
  const size_t smem = static_cast<size_t>(x.cols) * sizeof(float);
  hadamard_kernel<<<static_cast<unsigned>(x.rows), threads_for(x.cols / 2, 2), smem, stream>>>(x, scale);
  return cudaGetLastError();
}

cudaError_t kv_round_trip(const KvCodec& codec, Rows<float> rows, cudaStream_t stream) {
  if (!valid(rows) || rows.cols != codec.dim()) return cudaErrorInvalidValue;
  if (codec.format() == KvFormat::kF32 || rows.rows == 0) return cudaSuccess;
  const size_t smem = static_cast<size_t>(codec.row_bytes());  // ≤ 8192 (KvCodec's paper-row limit)
  kv_round_trip_kernel<<<static_cast<unsigned>(rows.rows), 256, smem, stream>>>(device_codec(codec), rows);
  return cudaGetLastError();
}

cudaError_t swiglu(Rows<float> gate, Rows<const float> up, float limit, cudaStream_t stream) {
  if (!valid(gate) || !valid(up) || gate.rows != up.rows || gate.cols != up.cols)
    return cudaErrorInvalidValue;
  if (gate.rows == 0) return cudaSuccess;
  swiglu_kernel<<<static_cast<unsigned>(gate.rows), threads_for(gate.cols, 4), 0, stream>>>(gate, up, limit);
  return cudaGetLastError();
}

cudaError_t moe_route(Rows<const float> logits, const float* bias, const int32_t* tid2eid,
                      const int32_t* tokens, float scaling, Rows<int32_t> experts, Rows<float> weights,
                      cudaStream_t stream) {
  if (!valid(logits) || !valid(experts) || !valid(weights) || logits.cols > kMaxExperts || experts.cols < 1 ||
      experts.cols > kMaxTopK || experts.cols > logits.cols || weights.cols != experts.cols ||
      experts.rows != logits.rows || weights.rows != logits.rows || (tid2eid && !tokens))
    return cudaErrorInvalidValue;
  if (logits.rows == 0) return cudaSuccess;
  moe_route_kernel<<<static_cast<unsigned>(logits.rows), 256, 0, stream>>>(logits, bias, tid2eid, tokens,
                                                                           scaling, experts, weights);
  return cudaGetLastError();
}

namespace {

// The dots of hc_pre / hc_head (`mixes` rows of fn, then the sum of squares) into dots' rows. Few tokens
// (decode) get one fn row a block, to spread the fn reads over more SMs.
cudaError_t launch_hc_dots(Rows<const float> streams, const float* fn, int mixes, Rows<float> dots,
                           cudaStream_t stream) {
  const unsigned token_tiles = static_cast<unsigned>((streams.rows + kHcTokens - 1) / kHcTokens);
  const int threads = threads_for(streams.cols, 16);
  if (streams.rows <= 16) {
    hc_dots_kernel<1><<<dim3(mixes + 1, token_tiles), threads, 0, stream>>>(streams, fn, mixes, dots);
  } else {
    hc_dots_kernel<4><<<dim3((mixes + 4) / 4, token_tiles), threads, 0, stream>>>(streams, fn, mixes, dots);
  }
  return cudaGetLastError();
}

bool valid_hc(Rows<const float> streams, const HcParams& p, Rows<float> x, int64_t mixes) {
  return valid(streams) && valid(x) && p.streams >= 1 && p.streams <= kMaxStreams && p.hidden >= mixes + 1 &&
         streams.cols == p.streams * p.hidden && x.rows == streams.rows && x.cols == p.hidden &&
         streams.rows <= int64_t{65535} * kHcTokens;
}

}  // namespace

cudaError_t hc_pre(Rows<const float> streams, const HcParams& p, Rows<float> x, Rows<float> post,
                   Rows<float> comb, cudaStream_t stream) {
  const int64_t n = p.streams, mixes = (2 + n) * n;
  if (!valid_hc(streams, p, x, mixes) || !valid(post) || !valid(comb) || post.rows != x.rows ||
      comb.rows != x.rows || post.cols != n || comb.cols != n * n)
    return cudaErrorInvalidValue;
  if (x.rows == 0) return cudaSuccess;
  const cudaError_t e = launch_hc_dots(streams, p.fn, static_cast<int>(mixes), x, stream);
  if (e != cudaSuccess) return e;
  // At least a thread per comb entry (n² ≤ 64).
  const int threads = std::max(threads_for(p.hidden, 4), static_cast<int>(kMaxStreams * kMaxStreams));
  hc_pre_kernel<<<static_cast<unsigned>(x.rows), threads, 0, stream>>>(streams, p, x, post, comb);
  return cudaGetLastError();
}

cudaError_t hc_head(Rows<const float> streams, const HcParams& p, Rows<float> y, cudaStream_t stream) {
  if (!valid_hc(streams, p, y, p.streams)) return cudaErrorInvalidValue;
  if (y.rows == 0) return cudaSuccess;
  const cudaError_t e = launch_hc_dots(streams, p.fn, static_cast<int>(p.streams), y, stream);
  if (e != cudaSuccess) return e;
  hc_head_kernel<<<static_cast<unsigned>(y.rows), threads_for(p.hidden, 4), 0, stream>>>(streams, p, y);
  return cudaGetLastError();
}

cudaError_t hc_post(Rows<const float> y, Rows<const float> post, Rows<const float> comb,
                    Rows<const float> streams, Rows<float> out, cudaStream_t stream) {
  const int64_t n = post.cols, d = y.cols, t = y.rows;
  if (!valid(y) || !valid(post) || !valid(comb) || !valid(streams) || !valid(out) || n < 1 ||
      n > kMaxStreams || comb.cols != n * n || streams.cols != n * d || out.cols != n * d || post.rows != t ||
      comb.rows != t || streams.rows != t || out.rows != t)
    return cudaErrorInvalidValue;
  if (t == 0 || d == 0) return cudaSuccess;
  constexpr int kThreads = 256;
  const int64_t chunks = (d + kThreads - 1) / kThreads;
  hc_post_kernel<<<static_cast<unsigned>(t * chunks), kThreads, 0, stream>>>(y, post, comb, streams, out,
                                                                             chunks);
  return cudaGetLastError();
}

}  // namespace baleen::cuda::kernels
