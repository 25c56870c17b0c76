// A checkpoint loaded for chat: weights, a CPU backend, the Model and DeepSeek-V4's tokenizer, kept
// together so the model's borrowed references stay valid. Also where `run`/`chat`/`agent` look for a
// model when none is named (issue 6: the committed baleen-nano).
#pragma once

#include <filesystem>
#include <memory>

#include "backend/backend.h"
#include "engine/model.h"
#include "engine/weights.h"
#include "model/checkpoint.h"
#include "tokenizer/tokenizer.h"

namespace baleen::session {

class LoadedModel {
 public:
  // Errors name the checkpoint directory or the tokenizer file. threads 0: the backend's default.
  LoadedModel(const std::filesystem::path& checkpoint_dir, const std::filesystem::path& tokenizer_file,
              unsigned threads = 0);
  LoadedModel(const LoadedModel&) = delete;
  LoadedModel& operator=(const LoadedModel&) = delete;

  Model& model() { return model_; }
  const tokenizer::Tokenizer& tokenizer() const { return tokenizer_; }
  const Checkpoint& checkpoint() const { return checkpoint_; }

 private:
  Checkpoint checkpoint_;
  ModelWeights weights_;
  std::unique_ptr<Backend> backend_;
  Model model_;
  tokenizer::Tokenizer tokenizer_;
};

// The model directory to use: `requested` when non-empty, else $BALEEN_MODEL, else models/baleen-nano
// of baleen's source tree (BALEEN_SOURCE_DIR at build time, or found upward from the current directory).
// Error saying where it looked when none exists.
std::filesystem::path resolve_model_dir(const std::filesystem::path& requested);

}  // namespace baleen::session
