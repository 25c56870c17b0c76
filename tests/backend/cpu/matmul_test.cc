#include "backend/cpu/matmul.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <functional>
#include <numeric>
#include <string>

#include "backend/cpu/cpu_backend.h"
#include "core/error.h"
#include "quantized_weights.h"
#include "weight_cases.h"
#include "random_inputs.h"

namespace baleen {
namespace {

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

bool same_bits(const float* a, const float* b, int64_t n) {
  return std::memcmp(a, b, static_cast<size_t>(n) * sizeof(float)) == 0;
}

// The first (token, column) whose bits differ, for the failure message.
std::string first_difference(const Tensor& a, const Tensor& b) {
  for (int64_t i = 0; i < a.size(); ++i) {
    if (std::bit_cast<uint32_t>(a.data()[i]) != std::bit_cast<uint32_t>(b.data()[i]))
      return fmt::format("element {}: {} vs {}", i, a.data()[i], b.data()[i]);
  }
  return "none";
}

TEST(CpuMatmul, StoredDtypesGiveTheFp32KernelsBitsOnTheirLoadF32Values) {
  auto backend = make_cpu_backend(2);
  std::mt19937 rng(21);
  for (const auto& c : test::weight_cases()) {
    test::StoredWeight w;
    c.make(w, rng);
    const int64_t out = w.view.rows, in = w.view.cols;
    for (int64_t t : {1, 2, 3, 7}) {
      Tensor x = test::random_tensor({t, in}, rng), quantized({t, out}), fp32({t, out});
      backend->matmul(x.matrix(), w.view, quantized.matrix());
      backend->matmul(x.matrix(), weight_view(w.f32), fp32.matrix());
      EXPECT_TRUE(same_bits(quantized.data(), fp32.data(), t * out))
          << c.name << " T=" << t << ": " << first_difference(quantized, fp32);
      // Ranges that start and end inside a 4-row tile, one of a single column.
      for (auto [b, e] : {std::pair<int64_t, int64_t>{3, out - 2}, {1, 2}, {out / 2 + 1, out}}) {
        Tensor part({t, out});
        cpu::matmul_columns(x.matrix(), w.view, part.matrix(), b, e);
        for (int64_t r = 0; r < t; ++r) {
          EXPECT_TRUE(same_bits(part.matrix().row(r) + b, fp32.matrix().row(r) + b, e - b))
              << c.name << " T=" << t << " columns [" << b << ", " << e << ") token " << r;
        }
      }
    }
  }
}

TEST(CpuMatmul, WeightValueIsTheCheckpointsDequantizedValue) {
  std::mt19937 rng(23);
  for (const auto& c : test::weight_cases()) {
    test::StoredWeight w;
    c.make(w, rng);
    // weight_value's float64 product is exact (≤ 4 + 24 significant bits), so rounding it once to fp32 is
    // load_f32's fp32 multiply.
    const auto f = w.f32.matrix();
    int64_t off = 0;
    for (int64_t r = 0; r < f.rows; ++r)
      for (int64_t k = 0; k < f.cols; ++k)
        off += static_cast<float>(cpu::weight_value(w.view, r, k)) != f(r, k);
    EXPECT_EQ(off, 0) << c.name;
  }
}

TEST(CpuMatmul, GroupedMatmulOnFp8GroupsIsTheFp32Result) {
  auto backend = make_cpu_backend(2);
  std::mt19937 rng(24);
  const int64_t t = 3, groups = 4, in_g = 48, out_g = 64;  // 32×32 blocks: 2 block rows a group
  test::StoredWeight w;
  test::make_fp8(w, groups * out_g, in_g, 32, 32, {DType::kUE8M0, 117, 130}, rng);
  Tensor x = test::random_tensor({t, groups * in_g}, rng), quantized({t, groups * out_g}),
         fp32({t, groups * out_g}), truth({t, groups * out_g});
  backend->grouped_matmul(x.matrix(), w.view, groups, quantized.matrix());
  backend->grouped_matmul(x.matrix(), weight_view(w.f32), groups, fp32.matrix());
  EXPECT_TRUE(same_bits(quantized.data(), fp32.data(), quantized.size()))
      << first_difference(quantized, fp32);
  for (int64_t g = 0; g < groups; ++g) {
    MatrixView<const float> xg{x.data() + g * in_g, t, in_g, groups * in_g};
    MatrixView<float> yg{truth.data() + g * out_g, t, out_g, groups * out_g};
    cpu::matmul_reference(xg, w.view.rows_slice(g * out_g, out_g), yg);
  }
  EXPECT_LT(test::relative_l2(quantized, truth), 1e-6);
}

TEST(CpuMatmul, WeightRowSlicesMustStartOnAScaleBlock) {
  std::mt19937 rng(25);
  test::StoredWeight fp8, fp4;
  test::make_fp8(fp8, 256, 64, 128, 128, {}, rng);
  test::make_fp4(fp4, 10, 64, {}, rng);
  EXPECT_THROW(fp8.view.rows_slice(64, 64), Error);
  EXPECT_THROW(fp8.view.rows_slice(128, 129), Error);  // past the end
  const WeightView lower = fp8.view.rows_slice(128, 128);
  EXPECT_EQ(cpu::weight_value(lower, 5, 7), cpu::weight_value(fp8.view, 133, 7));
  const WeightView row3 = fp4.view.rows_slice(3, 2);  // FP4 blocks are one row
  EXPECT_EQ(cpu::weight_value(row3, 1, 33), cpu::weight_value(fp4.view, 4, 33));
}

// DeepSeek's 128×128 blocks need not align with the groups (a small model's o_lora_rank of 96, 64 here): the
// grouped product reads each group's rows where they are, inside a shared scale block.
TEST(CpuMatmul, GroupsThatStartInsideAScaleBlockGiveTheFp32Bits) {
  auto backend = make_cpu_backend(2);
  std::mt19937 rng(26);
  test::StoredWeight w;
  test::make_fp8(w, 4 * 64, 64, 128, 128, {}, rng);
  Tensor x = test::random_tensor({3, 4 * 64}, rng), quantized({3, 256}), fp32({3, 256});
  backend->grouped_matmul(x.matrix(), w.view, 4, quantized.matrix());
  backend->grouped_matmul(x.matrix(), weight_view(w.f32), 4, fp32.matrix());
  EXPECT_TRUE(same_bits(quantized.data(), fp32.data(), quantized.size())) << first_difference(quantized, fp32);
}

TEST(CpuMatmul, SupportsTheStoredWeightDtypes) {
  auto backend = make_cpu_backend(1);
  uint8_t bytes[64] = {}, scales[4] = {};
  for (DType d : {DType::kF32, DType::kBF16}) EXPECT_TRUE(backend->supports({d, bytes, 2, 2}));
  for (DType d : {DType::kF8E4M3, DType::kF4E2M1x2})
    EXPECT_TRUE(backend->supports({d, bytes, 2, 2, scales, DType::kUE8M0, 1, 32}));
  EXPECT_FALSE(backend->supports({DType::kF8E4M3, bytes, 2, 2}));  // FP8 without its scales
  for (DType d : {DType::kF16, DType::kI8, DType::kUE8M0}) EXPECT_FALSE(backend->supports({d, bytes, 2, 2}));
}

}  // namespace
}  // namespace baleen
