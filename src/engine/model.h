// The DeepSeek-V4 forward pass (spec model.md), written once over a Backend. forward() appends a chunk
// of any size to a session and returns its logits; a chunked or token-by-token pass gives the logits of
// one full-sequence pass. The model borrows its weights and backend; one forward at a time per model.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "engine/moe.h"
#include "engine/session_state.h"
#include "engine/sparse_rows.h"
#include "engine/weights.h"
#include "engine/workspace.h"

namespace baleen {

// Which positions of a chunk get logits: all (scoring a sequence) or the last (a prompt before decoding;
// the head then runs on one row).
enum class LogitRows { kAll, kLast };

class Model {
 public:
  // Throws Error when a weight is missing or mis-shaped for the config, or the backend cannot multiply it.
  Model(const Config& config, const ModelWeights& weights, Backend& backend);

  const Config& config() const { return config_; }
  SessionState new_session(StateStorage storage) const { return SessionState(config_, storage); }

  // Appends `tokens` to `state`; returns logits [T, vocab] (kLast: [1, vocab], or [0, vocab] for no
  // tokens). Throws Error on an out-of-range token id.
  Tensor forward(std::span<const int32_t> tokens, SessionState& state, LogitRows rows = LogitRows::kAll);
  // forward() in chunks of at most `chunk` tokens; progress(done, total) after each chunk.
  Tensor prefill(std::span<const int32_t> tokens, SessionState& state, int64_t chunk,
                 LogitRows rows = LogitRows::kAll,
                 const std::function<void(int64_t, int64_t)>& progress = {});
  // Rows of the output head multiplied per token (fewer than vocab_size when it is mostly zero rows).
  int64_t head_rows_multiplied() const { return sparse_head_ ? sparse_head_->kept() : config_.vocab_size; }

 private:
  HyperConnectionParams hc_params(const HyperConnectionWeights& w) const;
  void layer_forward(size_t i, std::span<const int32_t> tokens, SessionState& state);

  Config config_;
  const ModelWeights& weights_;
  Backend& backend_;
  std::vector<float> main_freq_, compress_freq_;
  std::vector<MoeViews> moe_views_;
  std::optional<SparseRows> sparse_head_;
  std::vector<int64_t> positions_;
  Workspace ws_;
};

}  // namespace baleen
