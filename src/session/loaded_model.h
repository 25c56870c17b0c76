// A checkpoint loaded on a backend (ModelInstance: the one model factory every command uses), and with
// DeepSeek-V4's tokenizer for chat (LoadedModel), kept together so the model's borrowed references stay
// valid. Also where `run`/`chat`/`agent` look for a model when none is named (the committed baleen-nano).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "backend/backend.h"
#include "engine/model.h"
#include "engine/weights.h"
#include "model/checkpoint.h"
#include "tokenizer/tokenizer.h"

namespace baleen::session {

struct ModelOptions {
  std::string backend = "cpu";                   // backend_registry.h
  unsigned threads = 0;                          // 0: the backend's default
  WeightFormat weights = WeightFormat::kStored;  // kFp32: dequantized at load (the exact mode)
};

class ModelInstance {
 public:
  // Errors name the checkpoint directory, the backend or the weight it cannot hold.
  ModelInstance(const std::filesystem::path& checkpoint_dir, const ModelOptions& options = {});
  ModelInstance(const ModelInstance&) = delete;
  ModelInstance& operator=(const ModelInstance&) = delete;

  Model& model() { return model_; }
  const Checkpoint& checkpoint() const { return checkpoint_; }

 private:
  Checkpoint checkpoint_;
  std::unique_ptr<Backend> backend_;
  Model model_;
};

class LoadedModel {
 public:
  // Errors name the checkpoint directory or the tokenizer file.
  LoadedModel(const std::filesystem::path& checkpoint_dir, const std::filesystem::path& tokenizer_file,
              const ModelOptions& options = {});

  Model& model() { return instance_.model(); }
  const tokenizer::Tokenizer& tokenizer() const { return tokenizer_; }
  const Checkpoint& checkpoint() const { return instance_.checkpoint(); }

 private:
  ModelInstance instance_;
  tokenizer::Tokenizer tokenizer_;
};

// The model directory to use: `requested` when non-empty, else $BALEEN_MODEL, else models/baleen-nano
// of baleen's source tree (BALEEN_SOURCE_DIR at build time, or found upward from the current directory).
// Error saying where it looked when none exists.
std::filesystem::path resolve_model_dir(const std::filesystem::path& requested);

}  // namespace baleen::session
