// The compressor on the CPU (spec "Compressors", "Lightning indexer"): one sequence's projected kv and gate
// rows join its compressor tail; every window that closes becomes one entry — ape added to the gates by
// the token's place in its window, gated pooling (with the CSA overlap of the previous window's a-halves),
// RMSNorm, RoPE at w·m, the Hadamard rotation when asked — stored in the state's entry pages.
#pragma once

#include <vector>

#include "backend/backend.h"
#include "backend/cpu/state_store.h"
#include "core/thread_pool.h"

namespace baleen::cpu {

// Grow-only scratch of compressor_append.
struct CompressorScratch {
  std::vector<float> gate, slot_kv, slot_gate, entries;
  std::vector<int64_t> positions;
};

// kv, gate: the sequence's rows [tokens, width] at positions first_position, ….
void compressor_append(ThreadPool& pool, const Backend::CompressorParams& p, MatrixView<const float> kv,
                       MatrixView<const float> gate, int64_t first_position, CompressorState& state,
                       CompressorScratch& scratch);

}  // namespace baleen::cpu
