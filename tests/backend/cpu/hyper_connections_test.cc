#include "backend/cpu/hyper_connections.h"

#include <gtest/gtest.h>

#include "backend/cpu/cpu_backend.h"
#include "random_inputs.h"

namespace baleen {
namespace {

struct Site {
  Tensor fn, base, scale;
  HyperConnectionParams params(int64_t n, int64_t d) const {
    return {fn.data(), base.data(), scale.data(), n, d, 20, 1e-6f, 1e-6f};
  }
};

Site random_site(int64_t n, int64_t d, int64_t outputs, std::mt19937& rng) {
  return {test::random_tensor({outputs, n * d}, rng, 0.05f), test::random_tensor({outputs}, rng),
          test::random_tensor({3}, rng)};
}

TEST(CpuHyperConnections, PreMatchesTruthAndCombIsDoublyStochastic) {
  auto backend = make_cpu_backend(2);
  std::mt19937 rng(6);
  const int64_t n = 4, d = 40, t = 5;
  Site site = random_site(n, d, (2 + n) * n, rng);
  Tensor streams = test::random_tensor({t, n * d}, rng, 2.0f);
  Tensor x({t, d}), post({t, n}), comb({t, n * n}), x0({t, d}), post0({t, n}), comb0({t, n * n});
  backend->hc_pre(streams.matrix(), site.params(n, d), x.matrix(), post.matrix(), comb.matrix());
  cpu::hc_pre_reference(streams.matrix(), site.params(n, d), x0.matrix(), post0.matrix(), comb0.matrix());
  EXPECT_LT(test::relative_l2(x, x0), 1e-5);
  EXPECT_LT(test::relative_l2(post, post0), 1e-5);
  EXPECT_LT(test::relative_l2(comb, comb0), 1e-5);
  for (int64_t k = 0; k < n; ++k) {  // 20 Sinkhorn iterations end on columns: each sums to ~1
    double col = 0;
    for (int64_t j = 0; j < n; ++j) col += comb.matrix()(2, j * n + k);
    EXPECT_NEAR(col, 1.0, 1e-4);
  }
}

TEST(CpuHyperConnections, PostAppliesCombTransposed) {
  auto backend = make_cpu_backend(2);
  std::mt19937 rng(7);
  const int64_t n = 4, d = 24, t = 3;
  Tensor y = test::random_tensor({t, d}, rng), post = test::random_tensor({t, n}, rng),
         comb = test::random_tensor({t, n * n}, rng), streams = test::random_tensor({t, n * d}, rng);
  Tensor fast({t, n * d}), truth({t, n * d});
  backend->hc_post(y.matrix(), post.matrix(), comb.matrix(), streams.matrix(), fast.matrix());
  cpu::hc_post_reference(y.matrix(), post.matrix(), comb.matrix(), streams.matrix(), truth.matrix());
  EXPECT_LT(test::relative_l2(fast, truth), 1e-6);
  // out_1[0] = post_1·y[0] + Σ_j C[j][1]·X_j[0]
  double want = post.matrix()(0, 1) * y.matrix()(0, 0);
  for (int64_t j = 0; j < n; ++j) want += comb.matrix()(0, j * n + 1) * streams.matrix()(0, j * d);
  EXPECT_NEAR(fast.matrix()(0, d), want, 1e-5);
}

TEST(CpuHyperConnections, HeadMatchesTruth) {
  auto backend = make_cpu_backend(2);
  std::mt19937 rng(8);
  const int64_t n = 4, d = 32, t = 4;
  Site site = random_site(n, d, n, rng);
  Tensor streams = test::random_tensor({t, n * d}, rng);
  Tensor fast({t, d}), truth({t, d});
  backend->hc_head(streams.matrix(), site.params(n, d), fast.matrix());
  cpu::hc_head_reference(streams.matrix(), site.params(n, d), truth.matrix());
  EXPECT_LT(test::relative_l2(fast, truth), 1e-6);
}

}  // namespace
}  // namespace baleen
