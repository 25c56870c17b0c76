#include "backend/cpu/indexer.h"

#include <algorithm>
#include <numeric>
#include <vector>

#include "backend/cpu/dot.h"

namespace baleen::cpu {
namespace {

int64_t visible_entries(int64_t position, int64_t ratio, int64_t entries) {
  return std::min(entries, (position + 1) / ratio);
}

// Writes the `picks.cols` best of order[0, visible) by descending score, −1 beyond what is visible.
template <typename Score>
void select_top_k(const Score* score, int32_t* order, int64_t visible, int32_t* picks, int64_t k) {
  std::iota(order, order + visible, 0);
  const int64_t take = std::min(k, visible);
  auto better = [&](int32_t a, int32_t b) { return score[a] > score[b] || (score[a] == score[b] && a < b); };
  std::partial_sort(order, order + take, order + visible, better);
  for (int64_t i = 0; i < k; ++i) picks[i] = i < take ? order[i] : -1;
}

}  // namespace

template <typename Rows>
void indexer_top_k_rows(MatrixView<const float> q, MatrixView<const float> head_weights, const Rows& keys,
                        const int64_t* positions, int64_t ratio, float scale, MatrixView<int32_t> picks,
                        std::span<float> score, std::span<int32_t> order, int64_t begin, int64_t end) {
  const int64_t heads = head_weights.cols, di = q.cols / heads;
  float scratch[kMaxKeyDim];
  for (int64_t t = begin; t < end; ++t) {
    const int64_t visible = visible_entries(positions[t], ratio, keys.count());
    for (int64_t s = 0; s < visible; ++s) {
      const float* key = keys.row(s, scratch);
      float acc = 0;
      for (int64_t h = 0; h < heads; ++h) {
        const float v = dot(q.row(t) + h * di, key, di);
        acc += head_weights(t, h) * std::max(v, 0.0f);
      }
      score[static_cast<size_t>(s)] = acc * scale;
    }
    select_top_k(score.data(), order.data(), visible, picks.row(t), picks.cols);
  }
}

template void indexer_top_k_rows<DenseRows>(MatrixView<const float>, MatrixView<const float>, const DenseRows&,
                                            const int64_t*, int64_t, float, MatrixView<int32_t>,
                                            std::span<float>, std::span<int32_t>, int64_t, int64_t);
template void indexer_top_k_rows<StoredRows>(MatrixView<const float>, MatrixView<const float>,
                                             const StoredRows&, const int64_t*, int64_t, float,
                                             MatrixView<int32_t>, std::span<float>, std::span<int32_t>, int64_t,
                                             int64_t);

void indexer_top_k_reference(MatrixView<const float> q, MatrixView<const float> head_weights,
                             MatrixView<const float> keys, const int64_t* positions, int64_t ratio,
                             float scale, MatrixView<float> scores, MatrixView<int32_t> picks) {
  const int64_t heads = head_weights.cols, di = keys.cols;
  std::vector<double> sc(static_cast<size_t>(keys.rows));
  std::vector<int32_t> order(static_cast<size_t>(keys.rows));
  for (int64_t t = 0; t < q.rows; ++t) {
    const int64_t visible = visible_entries(positions[t], ratio, keys.rows);
    for (int64_t s = 0; s < visible; ++s) {
      double acc = 0;
      for (int64_t h = 0; h < heads; ++h) {
        double v = 0;
        for (int64_t i = 0; i < di; ++i) v += double(q(t, h * di + i)) * keys(s, i);
        acc += double(head_weights(t, h)) * std::max(v, 0.0);
      }
      sc[static_cast<size_t>(s)] = acc * scale;
      scores(t, s) = static_cast<float>(acc * scale);
    }
    select_top_k(sc.data(), order.data(), visible, picks.row(t), picks.cols);
  }
}

}  // namespace baleen::cpu
