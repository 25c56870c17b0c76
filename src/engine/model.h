// The DeepSeek-V4 forward pass (spec model.md), written once over a Backend. forward() appends a chunk
// of any size to a session and returns its logits; a chunked or token-by-token pass gives the logits of
// one full-sequence pass. The model borrows its weights and backend; one forward at a time per model.
#pragma once

#include <functional>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "engine/moe.h"
#include "engine/session_state.h"
#include "engine/weights.h"
#include "engine/workspace.h"

namespace baleen {

class Model {
 public:
  // Throws Error when a weight is missing or mis-shaped for the config, or the backend cannot multiply it.
  Model(const Config& config, const ModelWeights& weights, Backend& backend);

  const Config& config() const { return config_; }
  SessionState new_session(StateStorage storage) const { return SessionState(config_, storage); }

  // Appends `tokens` to `state`; returns logits [T, vocab]. Throws Error on an out-of-range token id.
  Tensor forward(std::span<const int32_t> tokens, SessionState& state);
  // forward() in chunks of at most `chunk` tokens; progress(done, total) after each chunk.
  Tensor prefill(std::span<const int32_t> tokens, SessionState& state, int64_t chunk,
                 const std::function<void(int64_t, int64_t)>& progress = {});

 private:
  HyperConnectionParams hc_params(const HyperConnectionWeights& w) const;
  void layer_forward(size_t i, std::span<const int32_t> tokens, SessionState& state);

  Config config_;
  const ModelWeights& weights_;
  Backend& backend_;
  std::vector<float> main_freq_, compress_freq_;
  std::vector<MoeViews> moe_views_;
  std::vector<int64_t> positions_;
  Workspace ws_;
};

}  // namespace baleen
