// The backend's session indexer (session_kernels.h; for FP4 keys its scores on integer tensor cores,
// fp4_indexer_scores.cu) against the CPU backend's cpu::indexer_scores on the same inputs: every visible
// score with the CPU's bits, and the CPU's picks. Queries FP4-round-tripped as the engine gives them take
// the integer path; key and query blocks whose exponents lie far apart, queries off any int8 grid and
// subnormal blocks take the CPU-order fallback for their (head, key) pairs; zero and −0 blocks, both.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "../cpu/random_inputs.h"
#include "backend/cpu/indexer.h"
#include "backend/cuda/session_kernels.h"
#include "device_test_support.h"
#include "paged_rows.h"

namespace baleen::test {
namespace {

class SessionIndexer : public CudaTest {};

constexpr int64_t kDi = 128, kPageRows = 64, kRatio = 4;

// Block b of row r (32 values) scaled by 2^e.
void scale_block(Tensor& rows, int64_t r, int64_t b, int e) {
  float* x = rows.data() + r * rows.dim(1) + b * 32;
  for (int i = 0; i < 32; ++i) x[i] = std::ldexp(x[i], e);
}

struct Case {
  int64_t heads = 64, k = 64;
  bool spread_keys = false, odd_queries = false;
};

// Returns how many scores differ from the CPU's bits (printing the first few).
int64_t run(const Case& c, std::mt19937& rng) {
  const KvCodec codec(KvFormat::kFp4, kDi, 0);
  const int64_t n = 1003, heads = c.heads;
  const std::vector<int64_t> positions = {kRatio * n + 2, 517 * kRatio + 1, 3 * kRatio};
  const auto tokens = static_cast<int64_t>(positions.size());

  Tensor key_rows = random_tensor({n, kDi}, rng);
  for (int64_t r = 0; r < n; r += 7) {  // zero blocks, some of them −0
    float* x = key_rows.data() + r * kDi + (r % 4) * 32;
    for (int i = 0; i < 32; ++i) x[i] = r % 2 ? -0.0f : 0.0f;
  }
  if (c.spread_keys) {
    std::uniform_int_distribution<int> e(-40, 40);
    for (int64_t r = 0; r < n; r += 3) scale_block(key_rows, r, r % 4, e(rng));
  }
  const PagedRows keys(codec, kPageRows, key_rows, rng);

  // Queries per head as the engine gives them in paper storage: FP4-round-tripped through the codec.
  Tensor q = random_tensor({tokens, heads * kDi}, rng);
  std::vector<uint8_t> codes(static_cast<size_t>(codec.row_bytes()));
  for (int64_t r = 0; r < tokens * heads; ++r) {
    float* x = q.data() + r * kDi;
    if (r % 5 == 1) std::fill(x + 32, x + 64, r % 2 ? -0.0f : 0.0f);
    if (r % 11 == 3) std::fill(x, x + kDi, 0.0f);
    codec.encode(x, codes.data(), codes.data() + codec.data_bytes());
    codec.decode(codes.data(), codes.data() + codec.data_bytes(), x);
  }
  if (c.spread_keys) {  // blocks 2^±(20…60) apart; one head's blocks subnormal
    for (int64_t r = 0; r < tokens * heads; r += 3) scale_block(q, r / heads, (r % heads) * 4 + r % 4, r % 2 ? 60 : -20);
    for (int64_t b = 0; b < 4; ++b) scale_block(q, 0, 5 * 4 + b, -135);
  }
  if (c.odd_queries) {  // some heads off any int8 grid: plain random fp32
    Tensor raw = random_tensor({tokens, heads * kDi}, rng);
    for (int64_t t = 0; t < tokens; ++t) {
      for (int64_t h = 1; h < heads; h += 6) {
        std::copy_n(raw.data() + (t * heads + h) * kDi, kDi, q.data() + (t * heads + h) * kDi);
      }
    }
  }
  const Tensor w = random_tensor({tokens, heads}, rng);
  const float scale = 1.0f / std::sqrt(float(kDi));

  // The CPU's scores and picks.
  std::vector<float> want(static_cast<size_t>(tokens * n), 0.0f);
  std::vector<int32_t> want_picks(static_cast<size_t>(tokens * c.k)), order(static_cast<size_t>(n));
  for (int64_t t = 0; t < tokens; ++t) {
    const int64_t visible = std::min(n, (positions[static_cast<size_t>(t)] + 1) / kRatio);
    float* row = want.data() + t * n;
    cpu::indexer_scores(q.matrix(), w.matrix(), cpu::DenseRows{keys.decoded.matrix()}, t, scale, 0, visible, row);
    cpu::top_k_picks(row, order.data(), visible, want_picks.data() + t * c.k, c.k);
  }

  DeviceBuffer<uint8_t> pool(keys.pages);
  std::vector<const uint8_t*> table;
  for (int64_t s = 0; s < n; s += kPageRows) {
    table.push_back(pool.get() + keys.row_of[static_cast<size_t>(s)] / kPageRows * keys.layout.page_bytes());
  }
  DeviceBuffer<const uint8_t*> pages(table);
  cuda::SequenceKeys seq;
  seq.entries = {cuda::device_codec(codec), pages.get(), kPageRows};
  seq.entry_count = n;
  seq.ratio = kRatio;
  DeviceBuffer<cuda::SequenceKeys> dseq(std::vector<cuda::SequenceKeys>{seq});
  DeviceBuffer<float> dq(std::vector<float>(q.values().begin(), q.values().end()));
  DeviceBuffer<float> dw(std::vector<float>(w.values().begin(), w.values().end()));
  DeviceBuffer<int32_t> row_seq(std::vector<int32_t>(static_cast<size_t>(tokens), 0));
  DeviceBuffer<int64_t> pos(positions);
  DeviceBuffer<int32_t> picks(static_cast<size_t>(tokens * c.k));
  DeviceBuffer<float> scores(cuda::indexer_scratch_bytes(tokens, n) / sizeof(float));
  scores.poison();
  picks.poison();
  cuda::IndexerLaunch a;
  a.q = dq.get(), a.ldq = heads * kDi, a.rows = tokens, a.heads = heads, a.dim = kDi;
  a.head_weights = dw.get(), a.ldw = heads;
  a.row_sequence = row_seq.get(), a.sequences = dseq.get(), a.keys = seq.entries.codec;
  a.positions = pos.get(), a.scale = scale, a.most = n;
  a.picks = picks.get(), a.ld_picks = c.k, a.k = c.k;
  EXPECT_TRUE(cuda::fp4_indexer_fits(a));
  EXPECT_TRUE(synced(cuda::session_indexer(a, scores.get(), scores.size() * sizeof(float), nullptr)));
  const std::vector<float> got = scores.download();
  EXPECT_EQ(picks.download(), want_picks);
  int64_t differ = 0, compared = 0;
  for (int64_t t = 0; t < tokens; ++t) {
    const int64_t visible = std::min(n, (positions[static_cast<size_t>(t)] + 1) / kRatio);
    for (int64_t s = 0; s < visible; ++s, ++compared) {
      const float g = got[static_cast<size_t>(t * n + s)], r = want[static_cast<size_t>(t * n + s)];
      if (std::memcmp(&g, &r, 4) != 0 && differ++ < 5) {
        std::printf("row %ld key %ld: %.9g, the cpu's %.9g\n", long(t), long(s), double(g), double(r));
      }
    }
  }
  EXPECT_EQ(compared, n + 517 + 3);
  return differ;
}

TEST_F(SessionIndexer, RoundTrippedQueriesScoreWithTheCpusBits) {
  std::mt19937 rng(71);
  for (const int64_t heads : {64, 16, 48}) {
    SCOPED_TRACE(heads);
    EXPECT_EQ(run({heads, 64, false, false}, rng), 0);
  }
}

TEST_F(SessionIndexer, FarApartBlocksAndOffGridQueriesStillScoreWithTheCpusBits) {
  std::mt19937 rng(72);
  EXPECT_EQ(run({64, 512, true, false}, rng), 0);
  EXPECT_EQ(run({64, 100, false, true}, rng), 0);
  EXPECT_EQ(run({32, 100, true, true}, rng), 0);
}

}  // namespace
}  // namespace baleen::test
