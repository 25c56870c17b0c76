#include "backend/cpu/moe.h"

#include <gtest/gtest.h>

#include <set>

#include "backend/cpu/cpu_backend.h"
#include "random_inputs.h"

namespace baleen {
namespace {

TEST(CpuMoe, LearnedRoutingPicksLargestBiasedScores) {
  auto backend = make_cpu_backend(2);
  std::mt19937 rng(14);
  const int64_t t = 6, e = 16, k = 3;
  Tensor logits = test::random_tensor({t, e}, rng, 3.0f), bias = test::random_tensor({e}, rng, 0.5f);
  std::vector<int32_t> ids(t * k), ids0(t * k);
  Tensor w({t, k}), w0({t, k});
  backend->moe_route(logits.matrix(), bias.data(), nullptr, nullptr, 1.5f, {ids.data(), t, k}, w.matrix());
  cpu::moe_route_reference(logits.matrix(), bias.data(), nullptr, nullptr, 1.5f, {ids0.data(), t, k},
                           w0.matrix());
  EXPECT_EQ(ids, ids0);
  EXPECT_LT(test::relative_l2(w, w0), 1e-6);
  double sum = 0;
  for (int64_t i = 0; i < k; ++i) sum += w.matrix()(0, i);
  EXPECT_NEAR(sum, 1.5, 1e-5);
}

TEST(CpuMoe, HashRoutingUsesTheTokensTableRow) {
  auto backend = make_cpu_backend(1);
  std::mt19937 rng(15);
  const int64_t vocab = 10, e = 8, k = 2;
  std::vector<int32_t> table(vocab * k);
  for (int64_t v = 0; v < vocab; ++v) table[v * k] = v % e, table[v * k + 1] = (v + 3) % e;
  std::vector<int32_t> tokens = {7, 2};
  Tensor logits = test::random_tensor({2, e}, rng);
  std::vector<int32_t> ids(2 * k);
  Tensor w({2, k});
  backend->moe_route(logits.matrix(), nullptr, table.data(), tokens.data(), 1.0f, {ids.data(), 2, k},
                     w.matrix());
  EXPECT_EQ(ids, (std::vector<int32_t>{7, 2, 2, 5}));
}

TEST(CpuMoe, ExpertsMatchTruthWithClamp) {
  auto backend = make_cpu_backend(2);
  std::mt19937 rng(16);
  const int64_t t = 5, d = 24, f = 20, e = 4, k = 2;
  std::vector<Tensor> store;
  std::vector<ExpertWeights> experts;
  store.reserve(3 * e);
  for (int64_t i = 0; i < e; ++i) {
    store.push_back(test::random_tensor({f, d}, rng));
    store.push_back(test::random_tensor({d, f}, rng, 0.3f));
    store.push_back(test::random_tensor({f, d}, rng));
    experts.push_back(
        {weight_view(store[3 * i]), weight_view(store[3 * i + 1]), weight_view(store[3 * i + 2])});
  }
  Tensor x = test::random_tensor({t, d}, rng), w = test::random_tensor({t, k}, rng);
  std::vector<int32_t> ids = {0, 3, 1, 3, 2, 0, 3, 1, 1, 2};
  const MoeRoutes routes{{ids.data(), t, k}, w.matrix()};
  // The shared expert: one more route of weight 1 for every token.
  Tensor sw1 = test::random_tensor({f, d}, rng), sw2 = test::random_tensor({d, f}, rng, 0.3f),
         sw3 = test::random_tensor({f, d}, rng);
  const ExpertWeights shared{weight_view(sw1), weight_view(sw2), weight_view(sw3)};
  std::vector<int32_t> zeros(t, 0);
  Tensor ones({t, 1});
  for (float& v : ones.values()) v = 1.0f;
  Tensor fast = test::random_tensor({t, d}, rng), truth({t, d});  // written, not accumulated
  backend->moe_experts(x.matrix(), routes, experts, shared, 2.0f, fast.matrix());
  cpu::moe_experts_reference(x.matrix(), routes, experts, 2.0f, truth.matrix());
  cpu::moe_experts_reference(x.matrix(), {{zeros.data(), t, 1}, ones.matrix()}, {&shared, 1}, 2.0f, truth.matrix());
  EXPECT_LT(test::relative_l2(fast, truth), 1e-5);
}

}  // namespace
}  // namespace baleen
