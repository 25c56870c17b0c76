// What one layer's sublayers share in a step: the config, the backend and its step inputs, the model's
// workspace, the rope tables and the storage formats of the step's sessions.
#pragma once

#include "backend/backend.h"
#include "engine/workspace.h"
#include "model/config.h"

namespace baleen {

struct LayerContext {
  const Config& config;
  Backend& backend;
  const Step& step;
  Workspace& ws;
  int64_t layer = 0;
  RopeFrequencies rope;           // this layer's: main for sliding-only layers, compress otherwise
  RopeFrequencies compress_rope;  // the compressors' and indexer's
  const LayerStateSpec& state;    // the formats the step's sessions store this layer in
  bool paper = false;             // the sessions store the paper's formats
};

}  // namespace baleen
