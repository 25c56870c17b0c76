#include <gtest/gtest.h>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/hadamard.h"
#include "backend/cpu/rms_norm.h"
#include "backend/cpu/rope.h"
#include "random_inputs.h"

namespace baleen {
namespace {

TEST(CpuRmsNorm, WeightedAndUnweightedMatchTruth) {
  auto backend = make_cpu_backend(2);
  std::mt19937 rng(3);
  Tensor x = test::random_tensor({33, 77}, rng, 3.0f), w = test::random_tensor({77}, rng);
  for (const float* weight : {static_cast<const float*>(w.data()), static_cast<const float*>(nullptr)}) {
    Tensor fast({33, 77}), truth({33, 77});
    backend->rms_norm(x.matrix(), weight, 1e-6f, fast.matrix());
    cpu::rms_norm_reference(x.matrix(), weight, 1e-6f, truth.matrix());
    EXPECT_LT(test::relative_l2(fast, truth), 1e-6);
  }
}

TEST(CpuRope, RotatesTrailingPairsAndInverseUndoesIt) {
  auto backend = make_cpu_backend(2);
  std::mt19937 rng(4);
  const int64_t heads = 3, d = 48, r = 16;
  Tensor x = test::random_tensor({9, heads * d}, rng);
  std::vector<float> inv_freq(r / 2);
  for (int64_t i = 0; i < r / 2; ++i) inv_freq[i] = std::pow(10000.0f, -2.0f * i / r);
  std::vector<int64_t> pos = {0, 1, 5, 17, 100, 1000, 4097, 65536, 3};
  const RopeFrequencies f{inv_freq.data(), r};
  Tensor fast = x, truth = x;
  backend->rope(fast.matrix(), d, pos.data(), f, false);
  cpu::rope_reference(truth.matrix(), d, pos.data(), f, false);
  EXPECT_LT(test::relative_l2(fast, truth), 1e-6);
  for (int64_t h = 0; h < heads; ++h) {  // the non-rope dims are untouched
    EXPECT_EQ(fast.matrix()(4, h * d + 7), x.matrix()(4, h * d + 7));
  }
  EXPECT_NE(fast.matrix()(4, d - 1), x.matrix()(4, d - 1));
  backend->rope(fast.matrix(), d, pos.data(), f, true);
  EXPECT_LT(test::relative_l2(fast, x), 1e-5);
}

TEST(CpuHadamard, MatchesMatrixTruthAndIsOrthogonal) {
  auto backend = make_cpu_backend(2);
  std::mt19937 rng(5);
  Tensor x = test::random_tensor({6, 128}, rng);
  Tensor fast = x, truth = x;
  backend->hadamard(fast.matrix());
  cpu::hadamard_reference(truth.matrix());
  EXPECT_LT(test::relative_l2(fast, truth), 1e-6);
  backend->hadamard(fast.matrix());  // normalized Sylvester H is its own inverse
  EXPECT_LT(test::relative_l2(fast, x), 1e-6);
}

}  // namespace
}  // namespace baleen
