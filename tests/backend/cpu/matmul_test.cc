#include "backend/cpu/matmul.h"

#include <gtest/gtest.h>

#include "backend/backend.h"
#include "random_inputs.h"

namespace baleen {
namespace {

TEST(CpuMatmul, MatchesFloat64TruthForOddShapes) {
  auto backend = make_cpu_backend(2);
  std::mt19937 rng(1);
  for (auto [t, in, out] : {std::tuple{1, 37, 13}, {2, 64, 8}, {5, 129, 67}, {16, 256, 130}}) {
    Tensor x = test::random_tensor({t, in}, rng), w = test::random_tensor({out, in}, rng);
    Tensor fast({t, out}), truth({t, out});
    backend->matmul(x.matrix(), weight_view(w), fast.matrix());
    cpu::matmul_reference(x.matrix(), w.matrix(), truth.matrix());
    EXPECT_LT(test::relative_l2(fast, truth), 1e-6) << "T=" << t << " in=" << in << " out=" << out;
  }
}

TEST(CpuMatmul, GroupedMatmulIsBlockDiagonal) {
  auto backend = make_cpu_backend(2);
  std::mt19937 rng(2);
  const int64_t t = 3, groups = 4, in_g = 24, out_g = 10;
  Tensor x = test::random_tensor({t, groups * in_g}, rng),
         w = test::random_tensor({groups * out_g, in_g}, rng);
  Tensor fast({t, groups * out_g}), truth({t, groups * out_g});
  backend->grouped_matmul(x.matrix(), weight_view(w), groups, fast.matrix());
  for (int64_t g = 0; g < groups; ++g) {
    MatrixView<const float> xg{x.data() + g * in_g, t, in_g, groups * in_g};
    MatrixView<const float> wg{w.data() + g * out_g * in_g, out_g, in_g};
    MatrixView<float> yg{truth.data() + g * out_g, t, out_g, groups * out_g};
    cpu::matmul_reference(xg, wg, yg);
  }
  EXPECT_LT(test::relative_l2(fast, truth), 1e-6);
}

}  // namespace
}  // namespace baleen
