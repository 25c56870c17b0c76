#include "backend/cpu/indexer.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "random_inputs.h"

namespace baleen {
namespace {

TEST(CpuIndexer, TopKMatchesTruthAndRespectsVisibility) {
  std::mt19937 rng(13);
  const int64_t t = 7, heads = 4, di = 32, entries = 12, k = 5, ratio = 4;
  Tensor q = test::random_tensor({t, heads * di}, rng), w = test::random_tensor({t, heads}, rng),
         keys = test::random_tensor({entries, di}, rng);
  std::vector<int64_t> pos = {3, 7, 10, 19, 23, 40, 47};  // visible: 1, 2, 2, 5, 6, 11, 12 entries
  Tensor scores0({t, entries});
  std::vector<int32_t> picks(t * k), picks0(t * k);
  std::vector<float> score(entries);
  std::vector<int32_t> order(entries);
  cpu::indexer_top_k_rows(q.matrix(), w.matrix(), cpu::DenseRows{keys.matrix()}, pos.data(), ratio, 0.2f,
                          {picks.data(), t, k}, score, order, 0, t);
  cpu::indexer_top_k_reference(q.matrix(), w.matrix(), keys.matrix(), pos.data(), ratio, 0.2f,
                               scores0.matrix(), {picks0.data(), t, k});
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
