// Lightning-indexer scoring and top-k (spec "Lightning indexer"): score(t, s) = Σ_h w[t,h]·ReLU(q[t,h]·k_s)
// ·scale over the entries visible at position p_t (s < (p_t+1) div ratio); picks are the highest
// min(k, visible) entries (ties: lower index first), −1 after them. `order` is scratch of N ints.
#pragma once

#include <span>

#include "core/tensor.h"

namespace baleen::cpu {

void indexer_top_k_rows(MatrixView<const float> q, MatrixView<const float> head_weights,
                        MatrixView<const float> keys, const int64_t* positions, int64_t ratio, float scale,
                        MatrixView<float> scores, MatrixView<int32_t> picks, std::span<int32_t> order,
                        int64_t begin, int64_t end);
void indexer_top_k_reference(MatrixView<const float> q, MatrixView<const float> head_weights,
                             MatrixView<const float> keys, const int64_t* positions, int64_t ratio,
                             float scale, MatrixView<float> scores, MatrixView<int32_t> picks);

}  // namespace baleen::cpu
