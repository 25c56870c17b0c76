#include "backend/cpu/moe.h"

#include <gtest/gtest.h>

#include <cstring>
#include <set>

#include "backend/cpu/cpu_backend.h"
#include "quantized_weights.h"
#include "random_inputs.h"

namespace baleen {
namespace {

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

// The checkpoint's experts: FP4 w1/w2/w3 read in place give the fp32 experts' bits on their load_f32 copies.
TEST(CpuMoe, Fp4ExpertsGiveTheBitsOfTheirLoadF32Copies) {
  auto backend = make_cpu_backend(2);
  std::mt19937 rng(17);
  const int64_t t = 5, d = 64, f = 96, e = 4, k = 2;
  std::vector<test::StoredWeight> store(static_cast<size_t>(3 * e));
  std::vector<ExpertWeights> quantized, fp32;
  for (int64_t i = 0; i < e; ++i) {
    auto* w = &store[static_cast<size_t>(3 * i)];
    test::make_fp4(w[0], f, d, {DType::kUE8M0, 120, 124}, rng);
    test::make_fp4(w[1], d, f, {DType::kUE8M0, 118, 122}, rng);
    test::make_fp4(w[2], f, d, {DType::kUE8M0, 120, 124}, rng);
    quantized.push_back({w[0].view, w[1].view, w[2].view});
    fp32.push_back({weight_view(w[0].f32), weight_view(w[1].f32), weight_view(w[2].f32)});
  }
  Tensor x = test::random_tensor({t, d}, rng), w = test::random_tensor({t, k}, rng);
  std::vector<int32_t> ids = {0, 3, 1, 3, 2, 0, 3, 1, 1, 2};
  const MoeRoutes routes{{ids.data(), t, k}, w.matrix()};
  // Expert 0 doubles as the shared expert (one more route of weight 1 for every token).
  Tensor from_fp4({t, d}), from_fp32({t, d}), truth({t, d});
  backend->moe_experts(x.matrix(), routes, quantized, quantized[0], 2.0f, from_fp4.matrix());
  backend->moe_experts(x.matrix(), routes, fp32, fp32[0], 2.0f, from_fp32.matrix());
  cpu::moe_experts_reference(x.matrix(), routes, quantized, 2.0f, truth.matrix());
  std::vector<int32_t> zeros(t, 0);
  Tensor ones({t, 1});
  for (float& v : ones.values()) v = 1.0f;
  cpu::moe_experts_reference(x.matrix(), {{zeros.data(), t, 1}, ones.matrix()}, {&quantized[0], 1}, 2.0f,
                             truth.matrix());
  EXPECT_EQ(0, std::memcmp(from_fp4.data(), from_fp32.data(), sizeof(float) * static_cast<size_t>(t * d)));
  EXPECT_LT(test::relative_l2(from_fp4, truth), 1e-5);
}

}  // namespace
}  // namespace baleen
