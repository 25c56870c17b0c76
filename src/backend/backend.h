// The seam between the model and the hardware (DESIGN.md "Backends"): coarse operations over plain
// row-major views, each batched over the T tokens of a chunk. Implementations never throw, keep their
// own scratch (grown on first use only), and may run an op in parallel internally; one op at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "core/dtype.h"
#include "core/error.h"
#include "core/tensor.h"

namespace baleen {

// A linear layer's weight [rows = out, cols = in] (y = x·Wᵀ) in its stored dtype: kF32, kBF16, kF8E4M3
// with block scales (DeepSeek's 128×128) or kF4E2M1x2 with block scales (1×32; two values a byte, element
// 2i in the low nibble). Rows are dense: a row holds cols·dtype_bits/8 bytes. `scales` is
// [ceil(rows/block_rows), ceil(cols/block_cols)] row-major in scale_dtype (kUE8M0 or kF32); a weight
// value is its element × its block's scale. A backend reports which dtypes it can multiply (supports()).
struct WeightView {
  DType dtype = DType::kF32;
  const void* data = nullptr;
  int64_t rows = 0;              // out features
  int64_t cols = 0;              // in features
  const void* scales = nullptr;  // null for kF32 / kBF16
  DType scale_dtype = DType::kUE8M0;
  int64_t block_rows = 0, block_cols = 0;

  MatrixView<const float> f32() const { return {static_cast<const float*>(data), rows, cols}; }
};

inline WeightView weight_view(const Tensor& t) {
  const int64_t cols = t.shape().empty() ? 1 : t.shape().back();
  return {DType::kF32, t.data(), cols == 0 ? 0 : t.size() / cols, cols};
}

// Rows [begin, begin + count) of w (a group of the grouped matmul's weight). A block-scaled slice must
// start on a block_rows boundary so that its scale rows are whole rows of w's; throws Error otherwise.
inline WeightView weight_row_slice(const WeightView& w, int64_t begin, int64_t count) {
  check(begin >= 0 && count >= 0 && begin + count <= w.rows, "weight rows [{}, {}) out of [0, {})", begin,
        begin + count, w.rows);
  WeightView s = w;
  s.data = static_cast<const uint8_t*>(w.data) + begin * w.cols * dtype_bits(w.dtype) / 8;
  s.rows = count;
  if (w.scales != nullptr) {
    check(w.block_rows > 0 && begin % w.block_rows == 0,
          "weight rows from {}: a {} slice must start on a multiple of its {}-row scale blocks", begin,
          dtype_name(w.dtype), w.block_rows);
    const int64_t scale_cols = (w.cols + w.block_cols - 1) / w.block_cols;
    s.scales = static_cast<const uint8_t*>(w.scales) +
               begin / w.block_rows * scale_cols * dtype_bits(w.scale_dtype) / 8;
  }
  return s;
}

// Interleaved RoPE frequencies θ_i (rope_dim/2 of them) of one rope type (spec "Attention").
struct RopeFrequencies {
  const float* inv_freq = nullptr;
  int64_t rope_dim = 0;
};

// One mHC site's parameters (spec "Residual streams (mHC)"): fn [(2+n)·n, n·D], base [(2+n)·n], scale [3].
struct HyperConnectionParams {
  const float* fn = nullptr;
  const float* base = nullptr;
  const float* scale = nullptr;
  int64_t streams = 0;  // n
  int64_t hidden = 0;   // D
  int64_t sinkhorn_iters = 0;
  float hc_eps = 0;
  float norm_eps = 0;  // of the unweighted RMSNorm over the concatenated streams
};

// The keys a chunk of queries may see in one attention layer (spec "Attention"). K = V.
struct AttentionKeys {
  // Raw kv rows of consecutive positions window_start, window_start+1, …; query p sees p−W+1 … p.
  MatrixView<const float> window;
  int64_t window_start = 0;
  int64_t window_size = 0;  // W
  // Compressed entries; entry w summarises tokens w·m … w·m+m−1. ratio 0: none.
  MatrixView<const float> compressed;
  int64_t ratio = 0;
  // CSA: per query, indices into `compressed` (−1: no pick). Empty (rows 0): every entry w < (p+1) div m.
  MatrixView<const int32_t> picks;
};

// One routed or shared expert: y = w2·(silu(min(w1·x, L)) ⊙ clamp(w3·x, −L, L)).
struct ExpertWeights {
  WeightView w1, w2, w3;
};

// Per token, the K chosen experts and their weights.
struct MoeRoutes {
  MatrixView<const int32_t> experts;
  MatrixView<const float> weights;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;
  virtual bool supports(DType weight_dtype) const = 0;

  // y[T, out] = x[T, in]·Wᵀ, fp32 accumulation.
  virtual void matmul(MatrixView<const float> x, const WeightView& w, MatrixView<float> y) = 0;
  // Block-diagonal product: x's columns split in `groups` equal slices, W is [groups·out_g, in_g];
  // y's group-i columns = x_i·W_iᵀ (the grouped output projection's wo_a). A block-scaled W needs out_g
  // to be a multiple of block_rows (weight_row_slice throws Error otherwise).
  virtual void grouped_matmul(MatrixView<const float> x, const WeightView& w, int64_t groups,
                              MatrixView<float> y) = 0;
  // Per row: y = x·rsqrt(mean(x²)+eps)·weight; weight null means unweighted. x and y may alias.
  virtual void rms_norm(MatrixView<const float> x, const float* weight, float eps, MatrixView<float> y) = 0;
  // Interleaved RoPE on the trailing rope_dim dims of every head_dim slice of row t at angle
  // positions[t]·θ_i (−positions[t]·θ_i when inverse). In place.
  virtual void rope(MatrixView<float> x, int64_t head_dim, const int64_t* positions, const RopeFrequencies& f,
                    bool inverse) = 0;
  // Normalized Walsh–Hadamard transform of each row (cols a power of two), in place.
  virtual void hadamard(MatrixView<float> x) = 0;

  // mHC site steps 1–3: per token, pre/post/comb from the streams [T, n·D], x = Σ_j pre_j·X_j [T, D],
  // post [T, n], comb [T, n·n] (row-major C[j][k]).
  virtual void hc_pre(MatrixView<const float> streams, const HyperConnectionParams& p, MatrixView<float> x,
                      MatrixView<float> post, MatrixView<float> comb) = 0;
  // mHC site step 4: out_k = post_k·y + Σ_j C[j][k]·X_j (streams [T, n·D] in, out; must not alias).
  virtual void hc_post(MatrixView<const float> y, MatrixView<const float> post, MatrixView<const float> comb,
                       MatrixView<const float> streams, MatrixView<float> out) = 0;
  // Final head collapse: y = Σ_j pre_j·X_j with pre = sigmoid(fn·f·scale + base) + eps.
  virtual void hc_head(MatrixView<const float> streams, const HyperConnectionParams& p,
                       MatrixView<float> y) = 0;

  // Compressor pooling: kv and gate hold `slots` consecutive rows per entry; per channel,
  // entry = Σ_j softmax_j(gate_j)·kv_j (gate −inf: slot unused).
  virtual void compressor_pool(MatrixView<const float> kv, MatrixView<const float> gate, int64_t slots,
                               MatrixView<float> entries) = 0;
  // Lightning indexer: score(t, s) = Σ_h w[t,h]·ReLU(q[t,h]·key_s)·scale over entries s < (p_t+1) div ratio;
  // picks[t] = indices of the highest min(k, N) (−1 where fewer are visible). scores is scratch [T, N].
  virtual void indexer_top_k(MatrixView<const float> q, MatrixView<const float> head_weights,
                             MatrixView<const float> keys, const int64_t* positions, int64_t ratio,
                             float scale, MatrixView<float> scores, MatrixView<int32_t> picks) = 0;
  // Windowed / compressed / sparse attention with a per-head sink logit in the softmax denominator.
  // q and out are [T, heads·d].
  virtual void attention(MatrixView<const float> q, int64_t heads, const AttentionKeys& keys,
                         const int64_t* positions, const float* sinks, float scale,
                         MatrixView<float> out) = 0;

  // Router: scores = sqrt(softplus(logits)); chosen = tid2eid[token] (hash, [vocab, K]) or the K largest
  // scores + bias; weights = chosen scores / their sum · scaling.
  virtual void moe_route(MatrixView<const float> logits, const float* bias, const int32_t* tid2eid,
                         const int32_t* tokens, float scaling, MatrixView<int32_t> experts,
                         MatrixView<float> weights) = 0;
  // out[t] += Σ_k weights[t,k]·expert_{experts[t,k]}(x[t]) with the SwiGLU clamp L (0: no clamp).
  virtual void moe_experts(MatrixView<const float> x, const MoeRoutes& routes,
                           std::span<const ExpertWeights> experts, float limit, MatrixView<float> out) = 0;
};

// The CPU backend (src/backend/cpu): AVX2/FMA kernels on a pool of `threads` (0: all cores).
std::unique_ptr<Backend> make_cpu_backend(unsigned threads = 0);

}  // namespace baleen
