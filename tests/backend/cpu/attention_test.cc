#include "backend/cpu/attention.h"

#include <gtest/gtest.h>

#include "backend/backend.h"
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

void expect_matches_truth(const Case& c, int64_t heads, const AttentionKeys& keys) {
  auto backend = make_cpu_backend(2);
  const int64_t t = c.q.dim(0), width = c.q.dim(1);
  Tensor fast({t, width}), truth({t, width});
  const float scale = 1.0f / std::sqrt(float(width / heads));
  backend->attention(c.q.matrix(), heads, keys, c.positions.data(), c.sinks.data(), scale, fast.matrix());
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

TEST(CpuAttention, SinkOnlyShrinksTheOutput) {
  // One key: out = key · e^s / (e^s + e^sink); a large sink drives the output to zero.
  Tensor q({1, 4}), window({1, 4}), sinks({1});
  for (int i = 0; i < 4; ++i) q.data()[i] = window.data()[i] = 0.5f;
  sinks.data()[0] = 1.0f;
  const int64_t pos = 0;
  auto backend = make_cpu_backend(1);
  Tensor out({1, 4});
  AttentionKeys keys{window.matrix(), 0, 1, {}, 0, {}};
  backend->attention(q.matrix(), 1, keys, &pos, sinks.data(), 1.0f, out.matrix());
  const double s = 1.0, p = std::exp(s) / (std::exp(s) + std::exp(1.0));
  EXPECT_NEAR(out.data()[0], 0.5 * p, 1e-6);
}

}  // namespace
}  // namespace baleen
