#include "backend/cpu/matmul.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <numeric>

#include "backend/cpu/cpu_backend.h"
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

TEST(CpuMatmul, AnOutputsBitsDependOnItsRowsNotOnItsColumnsPosition) {
  auto backend = make_cpu_backend(2);
  std::mt19937 rng(3);
  const int64_t in = 45, out = 23;  // in: an 8-wide body and a scalar tail; out: 5 tiles and 3 left over
  Tensor w = test::random_tensor({out, in}, rng);
  for (int64_t t : {1, 2, 5}) {
    Tensor x = test::random_tensor({t, in}, rng), full({t, out});
    backend->matmul(x.matrix(), weight_view(w), full.matrix());
    // Every row moved: each lands at another tile slot, some in the left-over columns.
    for (int64_t take : {1, 3, 6, 22}) {
      std::vector<int64_t> picks(static_cast<size_t>(out));
      std::iota(picks.begin(), picks.end(), 0);
      std::shuffle(picks.begin(), picks.end(), rng);
      picks.resize(static_cast<size_t>(take));
      Tensor sub({take, in}), y({t, take});
      for (int64_t k = 0; k < take; ++k) {
        std::copy(w.matrix().row(picks[k]), w.matrix().row(picks[k]) + in, sub.matrix().row(k));
      }
      backend->matmul(x.matrix(), weight_view(sub), y.matrix());
      for (int64_t r = 0; r < t; ++r) {
        for (int64_t k = 0; k < take; ++k) {
          EXPECT_EQ(std::bit_cast<uint32_t>(y.matrix()(r, k)),
                    std::bit_cast<uint32_t>(full.matrix()(r, picks[k])))
              << "T=" << t << " token " << r << " row " << picks[k] << " at column " << k << " of " << take;
        }
      }
    }
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
