// Lightning-indexer scoring and top-k (spec "Lightning indexer"): score(t, s) = Σ_h w[t,h]·ReLU(q[t,h]·k_s)
// ·scale over the entries visible at position p_t (s < (p_t+1) div ratio); picks are the highest
// min(k, visible) entries (ties: lower index first), −1 after them. Keys are fp32 rows or stored rows
// decoded on the fly (the same bits). Every score is computed in one order whichever function computes it, so
// rows split across threads, or one row's entries split across threads, give the same picks.
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

int64_t visible_entries(int64_t position, int64_t ratio, int64_t entries);

// Rows [begin, end) of one sequence (positions ascending). `score` is scratch of kIndexerRowTile × N floats,
// `order` of N ints, for N = keys.count().
inline constexpr int64_t kIndexerRowTile = 16;
template <typename Rows>
void indexer_top_k_rows(MatrixView<const float> q, MatrixView<const float> head_weights, const Rows& keys,
                        const int64_t* positions, int64_t ratio, float scale, MatrixView<int32_t> picks,
                        std::span<float> score, std::span<int32_t> order, int64_t begin, int64_t end);
// score[s] for entries [s_begin, s_end) of query row t; then top_k_picks over score[0, visible): the two
// halves of indexer_top_k_rows for one row whose entries are split across threads.
template <typename Rows>
void indexer_scores(MatrixView<const float> q, MatrixView<const float> head_weights, const Rows& keys, int64_t t,
                    float scale, int64_t s_begin, int64_t s_end, float* score);
void top_k_picks(const float* score, int32_t* order, int64_t visible, int32_t* picks, int64_t k);

void indexer_top_k_reference(MatrixView<const float> q, MatrixView<const float> head_weights,
                             MatrixView<const float> keys, const int64_t* positions, int64_t ratio,
                             float scale, MatrixView<float> scores, MatrixView<int32_t> picks);

}  // namespace baleen::cpu
