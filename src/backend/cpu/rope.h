// Interleaved RoPE on the trailing rope dims of each head (spec "Attention"): pair (2i, 2i+1) rotates by
// angle pos·θ_i, the angle formed in fp32 as transformers does. Fast kernel over a row range, and a
// float64 scalar truth. In place.
#pragma once

#include "backend/backend.h"

namespace baleen::cpu {

void rope_rows(MatrixView<float> x, int64_t head_dim, const int64_t* positions, const RopeFrequencies& f,
               bool inverse, int64_t begin, int64_t end);
void rope_reference(MatrixView<float> x, int64_t head_dim, const int64_t* positions, const RopeFrequencies& f,
                    bool inverse);

}  // namespace baleen::cpu
