// The DeepSeek-V4 forward pass (spec model.md), written once over a Backend, for a batch of sessions at
// once: forward() appends each sequence's tokens to its session in one pass — decode tokens and prefill
// chunks mixed — and returns the logits of the rows asked for. Token-wise work runs once over every row;
// a sequence's logits are bit-identical to running it alone, and a chunked or token-by-token pass gives
// the logits of one full-sequence pass. The model borrows its backend; one forward at a time per model.
#pragma once

#include <functional>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "engine/session_state.h"
#include "engine/weights.h"
#include "engine/workspace.h"

namespace baleen {

// Tokens a prompt is prefilled in per forward: large enough that the weights are read once for many tokens,
// small enough that the workspace stays a few MB for baleen-nano.
inline constexpr int64_t kPrefillChunk = 256;

// Which rows of a sequence get logits: all (scoring a sequence), the last (a prompt before decoding), or
// none (a prefill chunk before the last).
enum class LogitRows { kAll, kLast, kNone };

// One sequence of a batch: `tokens` are appended to `state`.
struct BatchSequence {
  SessionState* state = nullptr;
  std::span<const int32_t> tokens;
  LogitRows logits = LogitRows::kLast;
};

class Model {
 public:
  // Uploads fp32 host weights (tests, benchmarks); throws Error when one is mis-shaped for the config.
  Model(const Config& config, const ModelWeights& weights, Backend& backend);
  // Weights already on the backend (load_weights).
  Model(const Config& config, BackendWeights weights, Backend& backend);

  const Config& config() const { return config_; }
  Backend& backend() const { return backend_; }
  const BackendWeights& weights() const { return weights_; }
  SessionState new_session(StateStorage storage) const { return SessionState(backend_, config_, storage); }

  // One step over every sequence; returns [rows asked for, vocab]: each sequence's in batch order. Throws
  // Error on an out-of-range token id, a state of another model or sessions of mixed storage.
  Tensor forward(std::span<const BatchSequence> batch);
  // One sequence; returns [T, vocab] (kLast: [1, vocab], or [0, vocab] for no tokens; kNone: [0, vocab]).
  Tensor forward(std::span<const int32_t> tokens, SessionState& state, LogitRows rows = LogitRows::kAll);
  // forward() in chunks of at most `chunk` tokens; progress(done, total) after each chunk.
  Tensor prefill(std::span<const int32_t> tokens, SessionState& state, int64_t chunk,
                 LogitRows rows = LogitRows::kAll,
                 const std::function<void(int64_t, int64_t)>& progress = {});
  // Rows of the output head multiplied per token (fewer than vocab_size when it is mostly zero rows).
  int64_t head_rows_multiplied() const {
    return weights_.head_rows ? weights_.head_rows->packed.rows : config_.vocab_size;
  }

 private:
  HyperConnectionParams hc_params(const BackendWeights::HyperConnection& w) const;
  void layer_forward(size_t i, const Step& step, bool paper);
  Step begin_step(std::span<const BatchSequence> batch, bool& paper);

  Config config_;
  Backend& backend_;
  BackendWeights weights_;
  const float* main_freq_ = nullptr;
  const float* compress_freq_ = nullptr;
  StateSpec fp32_spec_, paper_spec_;
  Workspace ws_;
  std::vector<int32_t> tokens_, logit_rows_;
  std::vector<StepSequence> sequences_;
};

}  // namespace baleen
