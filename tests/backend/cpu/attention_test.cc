#include "backend/cpu/attention.h"

#include <gtest/gtest.h>

#include "model/kv_codec.h"
#include "random_inputs.h"

namespace baleen {
namespace {

struct Case {
  Tensor q, window, compressed, sinks;
  std::vector<int64_t> positions;
  std::vector<int32_t> picks;
};

// Queries at positions 20…20+T−1 over a window that starts at 12, plus `entries` compressed rows.
Case random_case(int64_t t, int64_t heads, int64_t d, int64_t entries, std::mt19937& rng) {
  Case c{test::random_tensor({t, heads * d}, rng),
         test::random_tensor({8 + t, d}, rng),
         test::random_tensor({entries, d}, rng),
         test::random_tensor({heads}, rng),
         {},
         {}};
  for (int64_t i = 0; i < t; ++i) c.positions.push_back(20 + i);
  return c;
}

using cpu::AttentionKeys;

void expect_matches_truth(const Case& c, int64_t heads, const AttentionKeys& keys) {
  const int64_t t = c.q.dim(0), width = c.q.dim(1);
  Tensor fast({t, width}), truth({t, width});
  const float scale = 1.0f / std::sqrt(float(width / heads));
  cpu::attention_rows(c.q.matrix(), heads, keys, c.positions.data(), c.sinks.data(), scale, fast.matrix(), 0, t, 0,
                      heads);
  cpu::attention_reference(c.q.matrix(), heads, keys, c.positions.data(), c.sinks.data(), scale,
                           truth.matrix());
  EXPECT_LT(test::relative_l2(fast, truth), 1e-5) << "T=" << t;
}

TEST(CpuAttention, WindowOnlyMatchesTruthForDecodeAndPrefill) {
  std::mt19937 rng(9);
  for (int64_t t : {1, 5}) {
    Case c = random_case(t, 4, 32, 0, rng);
    AttentionKeys keys{c.window.matrix(), 12, 6, {}, 0, {}};
    expect_matches_truth(c, 4, keys);
  }
}

TEST(CpuAttention, CompressedEntriesAreCausalPerQuery) {
  std::mt19937 rng(10);
  Case c = random_case(6, 3, 16, 7, rng);  // ratio 4: query 20 sees 5 entries, query 25 sees 6
  AttentionKeys keys{c.window.matrix(), 12, 8, c.compressed.matrix(), 4, {}};
  expect_matches_truth(c, 3, keys);
}

TEST(CpuAttention, PicksSelectEntriesAndMinusOneIsSkipped) {
  std::mt19937 rng(11);
  Case c = random_case(3, 2, 16, 6, rng);
  c.picks = {4, 0, -1, 2, -1, -1, 5, 3, 1};
  AttentionKeys keys{c.window.matrix(), 12, 4, c.compressed.matrix(), 4, {c.picks.data(), 3, 3}};
  expect_matches_truth(c, 2, keys);
}

TEST(CpuAttention, ManyKeysAcrossTilesMatchTruth) {
  // More keys than a tile, a count that leaves a partial last tile, and scores large enough that the running
  // maximum moves often: the online softmax's rescaling must not drift from the two-pass truth.
  std::mt19937 rng(13);
  for (int64_t d : {128, 36}) {
    Case c = random_case(3, 4, d, 37, rng);
    for (int64_t i = 0; i < c.q.size(); ++i) c.q.data()[i] *= 3.0f;
    c.positions = {100, 101, 102};  // each sees 64 window keys and 25 entries: 11 tiles and a partial one
    c.window = test::random_tensor({103, d}, rng);
    AttentionKeys keys{c.window.matrix(), 0, 64, c.compressed.matrix(), 4, {}};
    expect_matches_truth(c, 4, keys);
  }
}

TEST(CpuAttention, ARowGetsTheSameBitsInAGroupAndAlone) {
  // Rows of one sequence share decoded key tiles in groups; how rows are grouped (threads, chunking) must
  // not change any row's bits, with entries seen in full or picked.
  std::mt19937 rng(14);
  const int64_t t = 21, heads = 4, d = 40;
  Case c = random_case(t, heads, d, 30, rng);
  c.window = test::random_tensor({8 + t, d}, rng);
  for (int64_t i = 0; i < t; ++i)
    for (int64_t k = 0; k < 5; ++k) c.picks.push_back(static_cast<int32_t>((i * 7 + k * 3) % 9) - 1);
  for (bool sparse : {false, true}) {
    const MatrixView<const int32_t> p{sparse ? c.picks.data() : nullptr, sparse ? t : 0, 5};
    AttentionKeys keys{c.window.matrix(), 12, 11, c.compressed.matrix(), 4, p};
    Tensor together({t, heads * d}), alone({t, heads * d});
    cpu::attention_rows(c.q.matrix(), heads, keys, c.positions.data(), c.sinks.data(), 0.2f, together.matrix(), 0,
                        t, 0, heads);
    for (int64_t i = 0; i < t; ++i) {
      cpu::attention_rows(c.q.matrix(), heads, keys, c.positions.data(), c.sinks.data(), 0.2f, alone.matrix(), i,
                          i + 1, i % 2, heads);
      cpu::attention_rows(c.q.matrix(), heads, keys, c.positions.data(), c.sinks.data(), 0.2f, alone.matrix(), i,
                          i + 1, 0, i % 2);
    }
    EXPECT_TRUE(std::equal(together.data(), together.data() + together.size(), alone.data()))
        << (sparse ? "picks" : "all entries");
  }
}

TEST(CpuAttention, SinkOnlyShrinksTheOutput) {
  // One key: out = key · e^s / (e^s + e^sink); a large sink drives the output to zero.
  Tensor q({1, 4}), window({1, 4}), sinks({1});
  for (int i = 0; i < 4; ++i) q.data()[i] = window.data()[i] = 0.5f;
  sinks.data()[0] = 1.0f;
  const int64_t pos = 0;
  Tensor out({1, 4});
  AttentionKeys keys{window.matrix(), 0, 1, {}, 0, {}};
  cpu::attention_rows(q.matrix(), 1, keys, &pos, sinks.data(), 1.0f, out.matrix(), 0, 1, 0, 1);
  const double s = 1.0, p = std::exp(s) / (std::exp(s) + std::exp(1.0));
  EXPECT_NEAR(out.data()[0], 0.5 * p, 1e-6);
}

// Keys as a session stores them — ring rows before the step, the step's own rows, entry pages — in every
// storage format, against the same keys held as fp32 rows: the same bits (the kernel visits them in one order).
TEST(CpuAttention, StoredKeysGiveTheBitsOfTheSameKeysAsRows) {
  std::mt19937 rng(12);
  const int64_t heads = 2, d = 80, rope = 16, window = 6, ratio = 4, start = 150, t = 5;
  for (KvFormat format : {KvFormat::kF32, KvFormat::kFp8Rope}) {
    const KvCodec codec(format, d, rope);
    cpu::PagePool pool(codec);
    cpu::RingRows ring(codec, window);
    cpu::PagedRows entries(&pool);
    // The ring holds positions start−window … start−1, the pages 70 entries (more than one page).
    ring.set_count(start - window);
    Tensor before = test::random_tensor({window, d}, rng), chunk = test::random_tensor({t, d}, rng);
    Tensor stored = test::random_tensor({70, d}, rng);
    for (int64_t i = 0; i < window; ++i) ring.append(before.matrix().row(i));
    for (int64_t i = 0; i < 70; ++i) entries.append(stored.matrix().row(i));
    for (int64_t i = 0; i < t; ++i) codec.round_trip(chunk.matrix().row(i));
    // The same keys as rows: window positions start−window+1 … start+t−1, entries decoded.
    Tensor rows({window - 1 + t, d}), decoded({70, d});
    for (int64_t i = 1; i < window; ++i) codec.decode(ring.data(start - window + i), ring.scales(start - window + i), rows.matrix().row(i - 1));
    for (int64_t i = 0; i < t; ++i) std::copy(chunk.matrix().row(i), chunk.matrix().row(i) + d, rows.matrix().row(window - 1 + i));
    for (int64_t i = 0; i < 70; ++i) codec.decode(entries.data(i), entries.scales(i), decoded.matrix().row(i));
    Tensor q = test::random_tensor({t, heads * d}, rng), sinks = test::random_tensor({heads}, rng);
    std::vector<int64_t> pos;
    for (int64_t i = 0; i < t; ++i) pos.push_back(start + i);
    std::vector<int32_t> picks = {3, 69, -1, 12, 64, 0, 7, -1, 5, 33, 2, 1, 63, 4, 9};
    for (bool sparse : {false, true}) {
      const MatrixView<const int32_t> p = sparse ? MatrixView<const int32_t>{picks.data(), t, 3} : MatrixView<const int32_t>{};
      const cpu::StoredKeys s{&ring, chunk.matrix(), start, window, &entries, ratio, p};
      const AttentionKeys a{rows.matrix(), start - window + 1, window, decoded.matrix(), ratio, p};
      Tensor got({t, heads * d}), want({t, heads * d});
      cpu::attention_rows(q.matrix(), heads, s, pos.data(), sinks.data(), 0.1f, got.matrix(), 0, t, 0, heads);
      cpu::attention_rows(q.matrix(), heads, a, pos.data(), sinks.data(), 0.1f, want.matrix(), 0, t, 0, heads);
      EXPECT_TRUE(std::equal(got.data(), got.data() + got.size(), want.data()))
          << (format == KvFormat::kF32 ? "fp32" : "fp8") << (sparse ? " picks" : " all entries");
    }
  }
}

}  // namespace
}  // namespace baleen
