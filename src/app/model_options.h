// The options of every command that runs a model: --model, --backend, --threads, --weights (stored | fp32)
// and --kv-storage (paper | fp32; --state is its older spelling).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "model/state_layout.h"
#include "session/loaded_model.h"

namespace baleen::app {

struct ModelFlags {
  std::string model;  // empty: session::resolve_model_dir's default
  std::string backend = "cpu";
  unsigned threads = 0;
  std::string weights = "stored";
  std::string kv_storage;

  // default_storage: what --kv-storage is when not given ("paper" where a model serves, "fp32" for parity).
  void add_to(CLI::App& cmd, const std::string& default_storage, bool model_required = false);
  session::ModelOptions options() const;
  StateStorage storage() const { return parse_state_storage(kv_storage); }
};

}  // namespace baleen::app
