#include "engine/kept_rows.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>

#include "../backend/cpu/random_inputs.h"
#include "backend/cpu/cpu_backend.h"
#include "core/dtype.h"

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

WeightView packed_view(const WeightView& w, const KeptRows& k) {
  WeightView p = w;
  p.data = k.packed.data();
  p.rows = k.count();
  return p;
}

// Multiplies through the kept rows and densely; every output of every token must have the same bits.
void expect_dense_bits(Backend& backend, const WeightView& w, const KeptRows& kept, const Tensor& x) {
  const int64_t t = x.dim(0), rows = w.rows;
  Tensor dense({t, rows}), sparse({t, rows});
  backend.matmul(x.matrix(), w, dense.matrix());
  sparse.values()[0] = 1.0f;  // stale output must be overwritten
  backend.matmul_kept_rows(x.matrix(), packed_view(w, kept), kept.rows.data(), w, sparse.matrix());
  for (int64_t i = 0; i < dense.size(); ++i) {
    ASSERT_EQ(std::bit_cast<uint32_t>(sparse.data()[i]), std::bit_cast<uint32_t>(dense.data()[i]))
        << "token " << i / rows << " row " << i % rows << ": " << sparse.data()[i] << " vs " << dense.data()[i];
  }
}

TEST(KeptRows, LogitsAreBitIdenticalToTheDenseProductOnRandomZeroRows) {
  auto backend = make_cpu_backend(2);
  std::mt19937 rng(11);
  for (auto [rows, cols, zero_p] : {std::tuple{203, 70, 0.9}, {97, 64, 0.6}, {1000, 33, 0.98}, {40, 8, 1.0}}) {
    int64_t zeros = 0;
    const Tensor w = weight_with_zero_rows(rows, cols, zero_p, rng, zeros);
    const std::optional<KeptRows> kept = find_kept_rows(weight_view(w), 0.5);
    ASSERT_TRUE(kept.has_value()) << rows << "×" << cols;
    EXPECT_EQ(kept->count(), rows - zeros);
    for (int64_t t : {1, 2, 7}) expect_dense_bits(*backend, weight_view(w), *kept, test::random_tensor({t, cols}, rng, 3.0f));
  }
}

TEST(KeptRows, Bf16WeightsKeepTheirZeroRowsTooAndGiveTheDenseBits) {
  auto backend = make_cpu_backend(2);
  std::mt19937 rng(14);
  int64_t zeros = 0;
  const Tensor w = weight_with_zero_rows(130, 48, 0.9, rng, zeros);
  std::vector<uint16_t> bf16;
  for (float v : w.values()) bf16.push_back(f32_to_bf16(v));
  const WeightView view{DType::kBF16, bf16.data(), 130, 48};
  const std::optional<KeptRows> kept = find_kept_rows(view, 0.5);
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->count(), 130 - zeros);
  expect_dense_bits(*backend, view, *kept, test::random_tensor({3, 48}, rng, 3.0f));
}

TEST(KeptRows, NonFiniteInputRowsKeepTheDenseNaNs) {
  auto backend = make_cpu_backend(2);
  std::mt19937 rng(12);
  int64_t zeros = 0;
  const Tensor w = weight_with_zero_rows(150, 40, 0.8, rng, zeros);
  const std::optional<KeptRows> kept = find_kept_rows(weight_view(w), 0.5);
  ASSERT_TRUE(kept.has_value());
  Tensor x = test::random_tensor({4, 40}, rng);
  x.matrix()(1, 5) = std::numeric_limits<float>::infinity();
  x.matrix()(3, 39) = std::numeric_limits<float>::quiet_NaN();
  expect_dense_bits(*backend, weight_view(w), *kept, x);
  Tensor y({4, 150});
  backend->matmul_kept_rows(x.matrix(), packed_view(weight_view(w), *kept), kept->rows.data(), weight_view(w),
                            y.matrix());
  int64_t nan_zero_rows = 0;  // inf·0 = NaN on the zero rows, as in the dense product
  for (int64_t r = 0; r < 150; ++r) nan_zero_rows += std::isnan(y.matrix()(1, r)) && w.matrix()(r, 0) == 0.0f;
  EXPECT_EQ(nan_zero_rows, zeros);
}

TEST(KeptRows, DenseOrBarelySparseOrQuantizedWeightsKeepTheDenseProduct) {
  std::mt19937 rng(13);
  const Tensor dense = test::random_tensor({64, 16}, rng);
  EXPECT_FALSE(find_kept_rows(weight_view(dense), 0.5).has_value());
  int64_t zeros = 0;
  Tensor w = weight_with_zero_rows(400, 16, 0.3, rng, zeros);
  EXPECT_FALSE(find_kept_rows(weight_view(w), 0.5).has_value());
  EXPECT_TRUE(find_kept_rows(weight_view(w), 0.2).has_value());
  // One denormal keeps its row: only exact zeros are dropped.
  Tensor z({8, 16});
  z.matrix()(6, 3) = std::numeric_limits<float>::denorm_min();
  const std::optional<KeptRows> kept = find_kept_rows(weight_view(z), 0.5);
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->count(), 1);
  // Quantized rows share block scales: not packed.
  std::vector<uint8_t> codes(64, 0), scales(1, 127);
  EXPECT_FALSE(find_kept_rows({DType::kF8E4M3, codes.data(), 8, 8, scales.data(), DType::kUE8M0, 128, 128}, 0.5));
}

}  // namespace
}  // namespace baleen
