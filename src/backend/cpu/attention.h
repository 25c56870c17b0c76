// Attention with sinks over a window plus compressed or picked entries (spec "Attention"): per query and
// head, p = softmax([q·k·scale …, sink]) without the sink's share, out = Σ p·k (K = V). The fast kernel
// uses an online softmax over a query range × head range (no scratch); the truth is two-pass float64.
#pragma once

#include "backend/backend.h"

namespace baleen::cpu {

void attention_rows(MatrixView<const float> q, int64_t heads, const AttentionKeys& keys,
                    const int64_t* positions, const float* sinks, float scale, MatrixView<float> out,
                    int64_t t_begin, int64_t t_end, int64_t h_begin, int64_t h_end);
void attention_reference(MatrixView<const float> q, int64_t heads, const AttentionKeys& keys,
                         const int64_t* positions, const float* sinks, float scale, MatrixView<float> out);

}  // namespace baleen::cpu
