#include "backend/cpu/indexer.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "random_inputs.h"

namespace baleen {
namespace {

TEST(CpuIndexer, TopKMatchesTruthAndRespectsVisibility) {
  std::mt19937 rng(13);
  // More rows than one tile and more entries than one key block; positions ascending with gaps.
  const int64_t t = 40, heads = 4, di = 32, entries = 90, k = 5, ratio = 4;
  Tensor q = test::random_tensor({t, heads * di}, rng), w = test::random_tensor({t, heads}, rng),
         keys = test::random_tensor({entries, di}, rng);
  std::vector<int64_t> pos = {3, 7, 10, 19, 23, 40, 47};  // visible: 1, 2, 2, 5, 6, 11, 12 entries
  while (static_cast<int64_t>(pos.size()) < t) pos.push_back(pos.back() + 1 + static_cast<int64_t>(rng() % 17));
  Tensor scores0({t, entries});
  std::vector<int32_t> picks(t * k), picks0(t * k);
  std::vector<float> score(cpu::kIndexerRowTile * entries);
  std::vector<int32_t> order(entries);
  cpu::indexer_top_k_rows(q.matrix(), w.matrix(), cpu::DenseRows{keys.matrix()}, pos.data(), ratio, 0.2f,
                          {picks.data(), t, k}, score, order, 0, t);
  cpu::indexer_top_k_reference(q.matrix(), w.matrix(), keys.matrix(), pos.data(), ratio, 0.2f,
                               scores0.matrix(), {picks0.data(), t, k});
  // One row's entries scored in two pieces (as when a decode row is split across threads): the same picks.
  for (int64_t i = 0; i < t; ++i) {
    const int64_t visible = cpu::visible_entries(pos[i], ratio, entries), half = visible / 2;
    std::vector<float> sc(entries);
    std::vector<int32_t> split(k);
    cpu::indexer_scores(q.matrix(), w.matrix(), cpu::DenseRows{keys.matrix()}, i, 0.2f, half, visible, sc.data());
    cpu::indexer_scores(q.matrix(), w.matrix(), cpu::DenseRows{keys.matrix()}, i, 0.2f, 0, half, sc.data());
    cpu::top_k_picks(sc.data(), order.data(), visible, split.data(), k);
    EXPECT_EQ(split, std::vector<int32_t>(picks.begin() + i * k, picks.begin() + (i + 1) * k)) << "query " << i;
  }
  for (int64_t i = 0; i < t; ++i) {
    const int64_t visible = std::min<int64_t>(entries, (pos[i] + 1) / ratio);
    std::vector<int32_t> a(picks.begin() + i * k, picks.begin() + (i + 1) * k);
    std::vector<int32_t> b(picks0.begin() + i * k, picks0.begin() + (i + 1) * k);
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    EXPECT_EQ(a, b) << "query " << i;
    for (int64_t j = 0; j < k; ++j) {
      const int32_t s = picks[i * k + j];
      if (j < std::min(k, visible)) {
        EXPECT_TRUE(s >= 0 && s < visible) << "query " << i << " pick " << s;
      } else {
        EXPECT_EQ(s, -1);
      }
    }
  }
}

}  // namespace
}  // namespace baleen
