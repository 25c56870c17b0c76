#include "backend/cpu/indexer.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "backend/cpu/dot.h"

namespace baleen::cpu {

int64_t visible_entries(int64_t position, int64_t ratio, int64_t entries) {
  return std::min(entries, (position + 1) / ratio);
}

namespace {

// Writes the `k` best of order[0, visible) by descending score into picks, −1 beyond what is visible.
template <typename Score>
void select_top_k(const Score* score, int32_t* order, int64_t visible, int32_t* picks, int64_t k) {
  std::iota(order, order + visible, 0);
  const int64_t take = std::min(k, visible);
  auto better = [&](int32_t a, int32_t b) { return score[a] > score[b] || (score[a] == score[b] && a < b); };
  // better is a total order, so the k best and their order are those of any correct selection: a linear
  // nth_element, then a sort of the k (a heap-based partial_sort of thousands of entries cost more).
  if (take < visible) std::nth_element(order, order + take, order + visible, better);
  std::sort(order, order + take, better);
  for (int64_t i = 0; i < k; ++i) picks[i] = i < take ? order[i] : -1;
}

// The scores of N keys, side by side; each key's products and sums in the one order the CUDA indexer
// reproduces: heads ascending, acc += w_h · relu(dot) as one fused multiply-add (spelled out: whether a
// compiler contracts a·b + c differs between compilers, GCC 12 and 13 among them).
template <int N>
void score(const float* q, const float* head_weights, const float* const* key, int64_t heads, int64_t di,
           float scale, float* out) {
  float acc[N] = {};
  for (int64_t h = 0; h < heads; ++h) {
    float d[N];
    dots<N>(q + h * di, key, di, d);
    for (int k = 0; k < N; ++k) acc[k] = std::fma(head_weights[h], std::max(d[k], 0.0f), acc[k]);
  }
  for (int k = 0; k < N; ++k) out[k] = acc[k] * scale;
}

// score[s] for s in [s_begin, s_end), key(s) the key's fp32 row.
template <typename Key>
void score_range(const float* q, const float* head_weights, Key&& key, int64_t heads, int64_t di, float scale,
                 int64_t s_begin, int64_t s_end, float* score_out) {
  int64_t s = s_begin;
  for (; s + 4 <= s_end; s += 4) {
    const float* k4[4] = {key(s), key(s + 1), key(s + 2), key(s + 3)};
    score<4>(q, head_weights, k4, heads, di, scale, score_out + s);
  }
  for (; s < s_end; ++s) {
    const float* k1 = key(s);
    score<1>(q, head_weights, &k1, heads, di, scale, score_out + s);
  }
}

}  // namespace

void top_k_picks(const float* score, int32_t* order, int64_t visible, int32_t* picks, int64_t k) {
  select_top_k(score, order, visible, picks, k);
}

template <typename Rows>
void indexer_scores(MatrixView<const float> q, MatrixView<const float> head_weights, const Rows& keys, int64_t t,
                    float scale, int64_t s_begin, int64_t s_end, float* score) {
  const int64_t heads = head_weights.cols, di = q.cols / heads;
  float scratch[4][kMaxKeyDim];
  score_range(
      q.row(t), head_weights.row(t), [&](int64_t s) { return keys.row(s, scratch[s % 4]); }, heads, di, scale,
      s_begin, s_end, score);
}

template <typename Rows>
void indexer_top_k_rows(MatrixView<const float> q, MatrixView<const float> head_weights, const Rows& keys,
                        const int64_t* positions, int64_t ratio, float scale, MatrixView<int32_t> picks,
                        std::span<float> score, std::span<int32_t> order, int64_t begin, int64_t end) {
  const int64_t heads = head_weights.cols, di = q.cols / heads, count = keys.count();
  // A tile of rows against a block of keys at a time, so a stored key is decoded once per tile, not per row.
  constexpr int64_t kKeyBlock = 32;
  float decoded[kKeyBlock * kMaxKeyDim];
  for (int64_t tb = begin; tb < end; tb += kIndexerRowTile) {
    const int64_t te = std::min(end, tb + kIndexerRowTile);
    int64_t most = 0;
    for (int64_t t = tb; t < te; ++t) most = std::max(most, visible_entries(positions[t], ratio, count));
    for (int64_t s0 = 0; s0 < most; s0 += kKeyBlock) {
      const int64_t s1 = std::min(most, s0 + kKeyBlock);
      const float* key[kKeyBlock];
      for (int64_t s = s0; s < s1; ++s) key[s - s0] = keys.row(s, decoded + (s - s0) * kMaxKeyDim);
      for (int64_t t = tb; t < te; ++t) {
        float* sc = score.data() + (t - tb) * count;
        const int64_t visible = std::min(s1, visible_entries(positions[t], ratio, count));
        score_range(
            q.row(t), head_weights.row(t), [&](int64_t s) { return key[s - s0]; }, heads, di, scale, s0, visible,
            sc);
      }
    }
    for (int64_t t = tb; t < te; ++t) {
      select_top_k(score.data() + (t - tb) * count, order.data(), visible_entries(positions[t], ratio, count),
                   picks.row(t), picks.cols);
    }
  }
}

template void indexer_top_k_rows<DenseRows>(MatrixView<const float>, MatrixView<const float>, const DenseRows&,
                                            const int64_t*, int64_t, float, MatrixView<int32_t>,
                                            std::span<float>, std::span<int32_t>, int64_t, int64_t);
template void indexer_top_k_rows<StoredRows>(MatrixView<const float>, MatrixView<const float>,
                                             const StoredRows&, const int64_t*, int64_t, float,
                                             MatrixView<int32_t>, std::span<float>, std::span<int32_t>, int64_t,
                                             int64_t);
template void indexer_scores<DenseRows>(MatrixView<const float>, MatrixView<const float>, const DenseRows&,
                                        int64_t, float, int64_t, int64_t, float*);
template void indexer_scores<StoredRows>(MatrixView<const float>, MatrixView<const float>, const StoredRows&,
                                         int64_t, float, int64_t, int64_t, float*);
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
