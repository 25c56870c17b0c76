// Lightning-indexer scoring and top-k (spec "Lightning indexer"): score(t, s) = Σ_h w[t,h]·ReLU(q[t,h]·k_s)
// ·scale over the entries visible at position p_t (s < (p_t+1) div ratio); picks are the highest
// min(k, visible) entries (ties: lower index first), −1 after them. Keys are fp32 rows or stored rows
// decoded on the fly (the same bits). `score` and `order` are scratch of N floats / ints.
#pragma once

#include <span>

#include "backend/cpu/attention.h"
#include "core/tensor.h"

namespace baleen::cpu {

struct DenseRows {
  MatrixView<const float> m;
  int64_t count() const { return m.rows; }
  const float* row(int64_t s, float*) const { return m.row(s); }
};

struct StoredRows {
  const PagedRows* rows;
  int64_t count() const { return rows->count(); }
  const float* row(int64_t s, float* scratch) const {
    return read_row(rows->codec(), rows->data(s), rows->scales(s), scratch);
  }
};

template <typename Rows>
void indexer_top_k_rows(MatrixView<const float> q, MatrixView<const float> head_weights, const Rows& keys,
                        const int64_t* positions, int64_t ratio, float scale, MatrixView<int32_t> picks,
                        std::span<float> score, std::span<int32_t> order, int64_t begin, int64_t end);
void indexer_top_k_reference(MatrixView<const float> q, MatrixView<const float> head_weights,
                             MatrixView<const float> keys, const int64_t* positions, int64_t ratio,
                             float scale, MatrixView<float> scores, MatrixView<int32_t> picks);

}  // namespace baleen::cpu
