#include "engine/sparse_rows.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>

#include "../backend/cpu/random_inputs.h"

namespace baleen {
namespace {

// A random [rows, cols] weight whose rows are zeroed with probability zero_p: all +0, all −0, or mixed signs.
Tensor weight_with_zero_rows(int64_t rows, int64_t cols, double zero_p, std::mt19937& rng, int64_t& zeros) {
  Tensor w = test::random_tensor({rows, cols}, rng);
  std::bernoulli_distribution zero(zero_p);
  std::uniform_int_distribution<int> sign(0, 2);
  zeros = 0;
  for (int64_t r = 0; r < rows; ++r) {
    if (!zero(rng)) continue;
    ++zeros;
    const int kind = sign(rng);
    for (int64_t c = 0; c < cols; ++c) {
      const bool negative = kind == 1 || (kind == 2 && (c + r) % 2 == 0);
      w.matrix()(r, c) = negative ? -0.0f : 0.0f;
    }
  }
  return w;
}

// Multiplies through the view and densely; every output of every token must have the same bits.
void expect_dense_bits(Backend& backend, const Tensor& w, const SparseRows& view, const Tensor& x) {
  const int64_t t = x.dim(0), rows = w.dim(0);
  Tensor dense({t, rows}), sparse({t, rows}), scratch({t, view.kept()});
  backend.matmul(x.matrix(), weight_view(w), dense.matrix());
  sparse.values()[0] = 1.0f;  // stale output must be overwritten
  view.matmul(backend, x.matrix(), scratch.matrix(), sparse.matrix());
  for (int64_t i = 0; i < dense.size(); ++i) {
    ASSERT_EQ(std::bit_cast<uint32_t>(sparse.data()[i]), std::bit_cast<uint32_t>(dense.data()[i]))
        << "token " << i / rows << " row " << i % rows << ": " << sparse.data()[i] << " vs "
        << dense.data()[i];
  }
}

TEST(SparseRows, LogitsAreBitIdenticalToTheDenseProductOnRandomZeroRows) {
  auto backend = make_cpu_backend(2);
  std::mt19937 rng(11);
  for (auto [rows, cols, zero_p] :
       {std::tuple{203, 70, 0.9}, {97, 64, 0.6}, {1000, 33, 0.98}, {40, 8, 1.0}}) {
    int64_t zeros = 0;
    const Tensor w = weight_with_zero_rows(rows, cols, zero_p, rng, zeros);
    const std::optional<SparseRows> view = SparseRows::detect(w, 0.5);
    ASSERT_TRUE(view.has_value()) << rows << "×" << cols;
    EXPECT_EQ(view->rows(), rows);
    EXPECT_EQ(view->kept(), rows - zeros);
    for (int64_t t : {1, 2, 7})
      expect_dense_bits(*backend, w, *view, test::random_tensor({t, cols}, rng, 3.0f));
  }
}

TEST(SparseRows, NonFiniteInputRowsKeepTheDenseNaNs) {
  auto backend = make_cpu_backend(2);
  std::mt19937 rng(12);
  int64_t zeros = 0;
  const Tensor w = weight_with_zero_rows(150, 40, 0.8, rng, zeros);
  const std::optional<SparseRows> view = SparseRows::detect(w, 0.5);
  ASSERT_TRUE(view.has_value());
  Tensor x = test::random_tensor({4, 40}, rng);
  x.matrix()(1, 5) = std::numeric_limits<float>::infinity();
  x.matrix()(3, 39) = std::numeric_limits<float>::quiet_NaN();
  expect_dense_bits(*backend, w, *view, x);
  Tensor scratch({4, view->kept()}), y({4, 150});
  view->matmul(*backend, x.matrix(), scratch.matrix(), y.matrix());
  int64_t nan_zero_rows = 0;  // inf·0 = NaN on the zero rows, as in the dense product
  for (int64_t r = 0; r < 150; ++r) nan_zero_rows += std::isnan(y.matrix()(1, r)) && w.matrix()(r, 0) == 0.0f;
  EXPECT_EQ(nan_zero_rows, zeros);
}

TEST(SparseRows, DenseOrBarelySparseWeightsKeepTheDenseProduct) {
  std::mt19937 rng(13);
  EXPECT_FALSE(SparseRows::detect(test::random_tensor({64, 16}, rng), 0.5).has_value());
  int64_t zeros = 0;
  Tensor w = weight_with_zero_rows(400, 16, 0.3, rng, zeros);
  EXPECT_FALSE(SparseRows::detect(w, 0.5).has_value());
  EXPECT_TRUE(SparseRows::detect(w, 0.2).has_value());
  // One denormal keeps its row: only exact zeros are dropped.
  Tensor z({8, 16});
  z.matrix()(6, 3) = std::numeric_limits<float>::denorm_min();
  const std::optional<SparseRows> view = SparseRows::detect(z, 0.5);
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->kept(), 1);
}

}  // namespace
}  // namespace baleen
