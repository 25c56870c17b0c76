#include "app/model_options.h"

#include "backend/backend_registry.h"
#include "core/error.h"

namespace baleen::app {

void ModelFlags::add_to(CLI::App& cmd, const std::string& default_storage, bool model_required) {
  kv_storage = default_storage;
  auto* m = cmd.add_option("--model", model, "checkpoint directory (default: $BALEEN_MODEL, else models/baleen-nano)");
  if (model_required) m->required();
  cmd.add_option("--backend", backend, fmt::format("backend: {}", fmt::join(backend_names(), " | ")))
      ->capture_default_str();
  cmd.add_option("--threads", threads, "backend threads (0: all cores)")->capture_default_str();
  cmd.add_option("--weights", weights, "weights as stored (FP8/FP4/BF16) or dequantized: stored | fp32")
      ->capture_default_str();
  cmd.add_option("--kv-storage,--state", kv_storage, "session KV storage: paper (FP8/BF16/FP4) | fp32 (exact)")
      ->capture_default_str();
}

session::ModelOptions ModelFlags::options() const {
  session::ModelOptions o;
  o.backend = backend;
  o.threads = threads;
  check(weights == "stored" || weights == "fp32", "--weights must be stored or fp32, got '{}'", weights);
  o.weights = weights == "fp32" ? WeightFormat::kFp32 : WeightFormat::kStored;
  parse_state_storage(kv_storage);  // refuse a bad value before loading anything
  return o;
}

}  // namespace baleen::app
