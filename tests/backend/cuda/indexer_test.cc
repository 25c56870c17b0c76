// The lightning indexer against cpu::indexer_top_k_reference (float64) on the stored FP4 queries and keys:
// the e4m3 products of e2m1 values are exact, so scores may differ only by fp32 summation (1e-5 relative
// allowed); picks must equal the reference's except where two scores are within that tolerance, and exactly
// where scores tie (lower index first).
#include "backend/cuda/indexer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "../cpu/random_inputs.h"
#include "backend/cpu/indexer.h"
#include "device_test_support.h"
#include "paged_rows.h"

namespace baleen::test {
namespace {

class IndexerTest : public CudaTest {};

constexpr int64_t kDi = 128, kPageRows = 64;

struct Outcome {
  double score_err = 0;
  int64_t mismatches = 0, unexplained = 0;
};

Outcome run(const Tensor& key_rows, int64_t heads, int64_t k, const std::vector<int64_t>& positions,
            int64_t ratio, std::mt19937& rng) {
  const KvCodec codec(KvFormat::kFp4, kDi, 0);
  EXPECT_EQ(codec.data_bytes(), cuda::kIndexerDataBytes);
  EXPECT_EQ(codec.scale_bytes(), cuda::kIndexerScaleBytes);
  const int64_t n = key_rows.dim(0), tokens = static_cast<int64_t>(positions.size());
  const PagedRows keys(codec, kPageRows, key_rows, rng);
  std::vector<int32_t> page_table;
  for (int64_t s = 0; s < n; s += kPageRows)
    page_table.push_back(static_cast<int32_t>(keys.row_of[static_cast<size_t>(s)] / kPageRows));
  // Queries stored per head as KvCodec rows; the truth sees them decoded.
  const Tensor q = random_tensor({tokens * heads, kDi}, rng);
  std::vector<uint8_t> q_data(static_cast<size_t>(tokens * heads * 64)),
      q_scales(static_cast<size_t>(tokens * heads * 4));
  Tensor q_dec({tokens, heads * kDi});
  for (int64_t r = 0; r < tokens * heads; ++r) {
    codec.encode(q.data() + r * kDi, q_data.data() + r * 64, q_scales.data() + r * 4);
    codec.decode(q_data.data() + r * 64, q_scales.data() + r * 4, q_dec.data() + r * kDi);
  }
  const Tensor w = random_tensor({tokens, heads}, rng);
  const float scale = 1.0f / std::sqrt(float(kDi * heads));
  Tensor want_scores({tokens, n});
  std::vector<int32_t> want(static_cast<size_t>(tokens * k));
  cpu::indexer_top_k_reference(q_dec.matrix(), w.matrix(), keys.decoded.matrix(), positions.data(), ratio,
                               scale, want_scores.matrix(), MatrixView<int32_t>(want.data(), tokens, k));

  DeviceBuffer<uint8_t> dq(q_data), dqs(q_scales), pages(keys.pages);
  DeviceBuffer<float> dw(std::vector<float>(w.values().begin(), w.values().end()));
  DeviceBuffer<int32_t> table(page_table);
  DeviceBuffer<int64_t> pos(positions);
  DeviceBuffer<float> scores(static_cast<size_t>(tokens * n));
  DeviceBuffer<int32_t> picks(static_cast<size_t>(tokens * k));
  scores.poison();
  picks.poison();
  cuda::IndexerArgs a;
  a.q_data = dq.get();
  a.q_scales = dqs.get();
  a.head_weights = dw.get();
  a.tokens = tokens;
  a.heads = heads;
  a.pages = pages.get();
  a.page_rows = kPageRows;
  a.page_table = table.get();
  a.page_table_stride = 0;
  a.entries = n;
  a.positions = pos.get();
  a.ratio = ratio;
  a.scale = scale;
  a.k = k;
  a.scores = scores.get();
  a.picks = picks.get();
  EXPECT_TRUE(synced(cuda::indexer_top_k(a, nullptr)));
  const auto got_scores = scores.download();
  const auto got = picks.download();
  const auto ref = want_scores.matrix();
  Outcome o;
  double num = 0, den = 0, max_abs = 0;
  for (int64_t t = 0; t < tokens; ++t) {
    const int64_t visible = std::min(n, (positions[static_cast<size_t>(t)] + 1) / ratio);
    for (int64_t s = 0; s < visible; ++s) {
      const double d = double(got_scores[static_cast<size_t>(t * n + s)]) - ref(t, s);
      num += d * d;
      den += double(ref(t, s)) * ref(t, s);
      max_abs = std::max(max_abs, std::fabs(double(ref(t, s))));
    }
  }
  o.score_err = std::sqrt(num / std::max(den, 1e-300));
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t i = 0; i < k; ++i) {
      const int32_t g = got[static_cast<size_t>(t * k + i)], r = want[static_cast<size_t>(t * k + i)];
      if (g == r) continue;
      ++o.mismatches;
      if (g < 0 || r < 0 || std::fabs(double(ref(t, g)) - ref(t, r)) > 1e-5 * max_abs) ++o.unexplained;
    }
  }
  return o;
}

TEST_F(IndexerTest, ScoresAndTopKMatchFloat64Reference) {
  std::mt19937 rng(61);
  const int64_t n = 3000;
  // Visible: all 3000; 700; 300 (fewer than k: the rest of the picks are −1).
  const Outcome o = run(random_tensor({n, kDi}, rng), 64, 512, {4 * n + 5, 2803, 1203}, 4, rng);
  EXPECT_LT(o.score_err, 1e-5);
  EXPECT_EQ(o.unexplained, 0) << o.mismatches << " picks differ";
  std::printf("indexer_top_k H=64 N=%ld: scores rel L2 %.2e, %ld picks differ (all near-ties)\n", long(n),
              o.score_err, long(o.mismatches));
}

TEST_F(IndexerTest, TiedScoresPickLowerIndicesFirst) {
  std::mt19937 rng(62);
  const int64_t n = 2048;
  // Only 40 distinct keys: every score value occurs ~50 times, so the k-th largest sits inside a tie.
  const Tensor distinct = random_tensor({40, kDi}, rng);
  Tensor rows({n, kDi});
  std::uniform_int_distribution<int> pick(0, 39);
  for (int64_t s = 0; s < n; ++s) std::copy_n(distinct.data() + pick(rng) * kDi, kDi, rows.data() + s * kDi);
  const Outcome o = run(rows, 32, 300, {4 * n, 4 * 1500 + 1}, 4, rng);
  EXPECT_EQ(o.mismatches, 0);
  EXPECT_LT(o.score_err, 1e-5);
}

TEST_F(IndexerTest, MoreTiesThanTheSelectionHoldsStillPickLowerIndicesFirst) {
  std::mt19937 rng(63);
  const int64_t n = 3000;
  // One key repeated: all 3000 scores tie, more than the 1,024 ties the selection gathers in one pass.
  const Tensor one = random_tensor({1, kDi}, rng);
  Tensor rows({n, kDi});
  for (int64_t s = 0; s < n; ++s) std::copy_n(one.data(), kDi, rows.data() + s * kDi);
  const Outcome o = run(rows, 16, 512, {4 * n}, 4, rng);
  EXPECT_EQ(o.mismatches, 0);
}

}  // namespace
}  // namespace baleen::test
