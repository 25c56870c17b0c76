// The seam between the model and the hardware (DESIGN.md "Backends"). The backend owns memory: weights
// uploaded once in their stored dtype, workspace buffers, the per-step inputs and every session's state
// (entries in pages shared between sessions with a common prefix). The engine sequences coarse operations
// over views of that memory and never touches its elements in between, so a step is a fixed sequence of
// calls: what a CUDA graph captures. Views passed to ops point into backend memory (device memory for a
// GPU backend). Ops never throw and keep their own scratch; upload and state import throw Error on bad
// input. One op at a time; an op may run in parallel internally.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"
#include "core/weight_view.h"
#include "backend/state_image.h"
#include "model/config.h"
#include "model/kv_codec.h"

namespace baleen {

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

// One routed or shared expert: y = w2·(silu(min(w1·x, L)) ⊙ clamp(w3·x, −L, L)).
struct ExpertWeights {
  WeightView w1, w2, w3;
};

// Per token, the K chosen experts and their weights.
struct MoeRoutes {
  MatrixView<const int32_t> experts;
  MatrixView<const float> weights;
};

// ---- Session state (DESIGN.md "Session state") ----

using StateId = int64_t;

// One compressor of a layer: entries of `dim` values, one per `ratio` tokens (0: the layer has none),
// with the CSA overlap (2·dim projected values a token) or not.
struct CompressorSpec {
  int64_t ratio = 0;
  int64_t dim = 0;
  bool overlap = false;
  KvCodec entries;
};

struct LayerStateSpec {
  KvCodec window;  // the raw kv rows of the sliding window
  CompressorSpec compressor, indexer;
};

// What a session's state holds, from the config and the storage mode (engine/session_state.h makes it).
struct StateSpec {
  int64_t window = 0;  // sliding_window rows kept per layer
  std::vector<LayerStateSpec> layers;
};

enum class CompressorRole { kMain, kIndexer };

// A state's size now. bytes: what model/state_layout.h counts (window rows held, compressor tails and
// overlaps, entries). Allocated: private_bytes for this state alone (window ring, tails, partly filled
// pages), shared_bytes of full entry pages it references (shared with its forks and parents).
struct StateUsage {
  int64_t bytes = 0;
  int64_t private_bytes = 0;
  int64_t shared_bytes = 0;
  std::vector<int64_t> entries;          // per layer: compressed entries held
  std::vector<int64_t> indexer_entries;  // per layer: indexer keys held
};

// ---- Per-step inputs ----

// One sequence of a step: its tokens are rows [first_row, first_row + rows) of the step, at positions
// start … start + rows − 1 of state `state` (start = the tokens it held before the step).
struct StepSequence {
  StateId state = -1;
  int64_t first_row = 0, rows = 0;
  int64_t start = 0;
};

// What the engine hands over once per step (host memory).
struct StepInputs {
  std::span<const int32_t> tokens;
  std::span<const StepSequence> sequences;  // in row order, covering every row once
  std::span<const int32_t> logit_rows;      // rows whose logits are computed, in output order
};

// The step's inputs in backend memory, valid until the next begin_step.
struct Step {
  int64_t rows = 0;
  const int32_t* tokens = nullptr;     // [rows]
  const int64_t* positions = nullptr;  // [rows]
  int64_t logit_count = 0;
  const int32_t* logit_rows = nullptr;      // [logit_count]
  std::span<const StepSequence> sequences;  // host copy, for planning work
};

// How long host memory handed to upload stays valid and unchanged.
enum class HostMemory {
  kTransient,   // only during the call: the backend copies it
  kPersistent,  // as long as the backend lives (a memory-mapped checkpoint): a host backend may use it
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;
  // Whether matmul, grouped_matmul and moe_experts read weights of this dtype and scale format.
  virtual bool supports(const WeightView& stored) const = 0;
  // Throws Error naming the field when the backend cannot run a model of this config.
  virtual void check_config(const Config& config) const = 0;

  // ---- Memory ----
  // A copy of a host weight (or the host bytes themselves, kPersistent on a host backend). Throws Error
  // when unsupported.
  virtual WeightView upload_weight(const WeightView& host, HostMemory lifetime) = 0;
  // Tables (norm gains, sinks, mHC parameters, rope frequencies, expert-hash tables): device copy.
  virtual const void* upload(const void* host, int64_t bytes) = 0;
  // Workspace: uninitialised bytes, 64-byte aligned, until release().
  virtual void* allocate(int64_t bytes) = 0;
  virtual void release(void* buffer) = 0;
  virtual void download(const void* src, void* host, int64_t bytes) = 0;

  // ---- Step ----
  virtual Step begin_step(const StepInputs& inputs) = 0;

  // ---- Token-wise operations, over all rows of a step ----
  // streams[t] = n copies of table[tokens[t]] (table [vocab, D], kF32 or kBF16).
  virtual void embed(const int32_t* tokens, const WeightView& table, int64_t streams,
                     MatrixView<float> out) = 0;
  // y[T, out] = x[T, in]·Wᵀ, fp32 accumulation.
  virtual void matmul(MatrixView<const float> x, const WeightView& w, MatrixView<float> y) = 0;
  // Block-diagonal product: x's columns split in `groups` equal slices, W is [groups·out_g, in_g];
  // y's group-i columns = x_i·W_iᵀ (the grouped output projection's wo_a).
  virtual void grouped_matmul(MatrixView<const float> x, const WeightView& w, int64_t groups,
                              MatrixView<float> y) = 0;
  // y = x·denseᵀ for a weight whose rows are zero except `kept` ([packed.rows] ascending row indices;
  // packed holds those rows): exactly the dense product's bits, computing the kept rows only.
  virtual void matmul_kept_rows(MatrixView<const float> x, const WeightView& packed, const int32_t* kept,
                                const WeightView& dense, MatrixView<float> y) = 0;
  // Per row: y = x·rsqrt(mean(x²)+eps)·weight; weight null means unweighted. x and y may alias.
  virtual void rms_norm(MatrixView<const float> x, const float* weight, float eps, MatrixView<float> y) = 0;
  // Interleaved RoPE on the trailing rope_dim dims of every head_dim slice of row t at angle
  // positions[t]·θ_i (−positions[t]·θ_i when inverse). In place.
  virtual void rope(MatrixView<float> x, int64_t head_dim, const int64_t* positions, const RopeFrequencies& f,
                    bool inverse) = 0;
  // Normalized Walsh–Hadamard transform of each row (cols a power of two), in place.
  virtual void hadamard(MatrixView<float> x) = 0;
  // rows ← decode(encode(rows)) in `codec`'s format: what a stored row reads back as.
  virtual void kv_round_trip(const KvCodec& codec, MatrixView<float> rows) = 0;
  // dst row i = src row rows[i].
  virtual void gather_rows(MatrixView<const float> src, const int32_t* rows, MatrixView<float> dst) = 0;

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

  // Router: scores = sqrt(softplus(logits)); chosen = tid2eid[token] (hash, [vocab, K]) or the K largest
  // scores + bias; weights = chosen scores / their sum · scaling.
  virtual void moe_route(MatrixView<const float> logits, const float* bias, const int32_t* tid2eid,
                         const int32_t* tokens, float scaling, MatrixView<int32_t> experts,
                         MatrixView<float> weights) = 0;
  // out[t] = Σ_k weights[t,k]·expert_{experts[t,k]}(x[t]) + shared(x[t]) with the SwiGLU clamp L
  // (0: no clamp); the routed sum in expert order, then the shared expert.
  virtual void moe_experts(MatrixView<const float> x, const MoeRoutes& routes,
                           std::span<const ExpertWeights> experts, const ExpertWeights& shared, float limit,
                           MatrixView<float> out) = 0;

  // ---- Operations on the step's sessions, for one layer ----
  // Each step sequence's kv rows (normalized, rotated, as stored) enter its window ring.
  virtual void window_append(const Step& step, int64_t layer, MatrixView<const float> kv) = 0;
  // The compressor (spec "Compressors"): projected kv and gate [T, width] of the step's tokens join each
  // sequence's tail; every window that closes becomes one entry — ape added to the gates, gated pooling
  // (with the CSA overlap), RMSNorm(norm), RoPE at w·m, Hadamard when `rotate` — stored in its pages.
  struct CompressorParams {
    CompressorRole role = CompressorRole::kMain;
    const float* ape = nullptr;   // [ratio, width]
    const float* norm = nullptr;  // [dim]
    RopeFrequencies rope;
    float eps = 0;
    bool rotate = false;
  };
  virtual void compressor_append(const Step& step, int64_t layer, const CompressorParams& p,
                                 MatrixView<const float> kv, MatrixView<const float> gate) = 0;
  // Lightning indexer (spec "Lightning indexer"): per query row, score(s) = Σ_h (w[t,h]·weight_scale)·
  // ReLU(q[t,h]·key_s)·scale over the sequence's indexer keys s < (p_t+1) div ratio; picks[t] = the
  // highest min(k, visible) (ties: lower index), −1 after them.
  virtual void indexer_top_k(const Step& step, int64_t layer, MatrixView<const float> q,
                             MatrixView<const float> head_weights, float weight_scale, float scale,
                             MatrixView<int32_t> picks) = 0;
  // Attention with a per-head sink logit (spec "Attention"), K = V: query t at position p sees the window
  // positions p−W+1 … p (before the step: the stored ring; in it: chunk_kv's rows of its sequence) and the
  // layer's compressed entries — every entry w < (p+1) div ratio, or with picks (rows > 0) only those.
  // q and out are [T, heads·d].
  virtual void attention(const Step& step, int64_t layer, MatrixView<const float> q, int64_t heads,
                         MatrixView<const float> chunk_kv, MatrixView<const int32_t> picks, const float* sinks,
                         float scale, MatrixView<float> out) = 0;

  // ---- Session state ----
  virtual StateId create_state(const StateSpec& spec) = 0;
  // A copy that shares every full entry page with `from` (by reference) and copies the rest.
  virtual StateId fork_state(StateId from) = 0;
  virtual void free_state(StateId state) = 0;
  virtual StateUsage state_usage(StateId state) const = 0;
  // Bytes of every entry page in use (each counted once) plus every state's private bytes.
  virtual int64_t state_memory() const = 0;
  // The state in host memory, and back; import throws Error when the image does not fit the spec.
  virtual StateImage export_state(StateId state) const = 0;
  virtual StateId import_state(const StateSpec& spec, const StateImage& image) = 0;
};

}  // namespace baleen
