#include "backend/cuda/activation_quant.h"

#include <gtest/gtest.h>

#include <cmath>

#include "../cpu/random_inputs.h"
#include "device_test_support.h"

namespace baleen::test {
namespace {

using cuda::Fp8Activations;

class ActivationQuantTest : public CudaTest {};

// Rows of N(0,1) values whose 128-blocks are scaled by very different powers, one block below the 1e-4
// amax floor, in a padded row stride.
std::vector<float> varied_rows(int64_t rows, int64_t cols, int64_t stride, std::mt19937& rng) {
  std::vector<float> x(static_cast<size_t>(rows * stride), 7.0f);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  const float gains[] = {1.0f, 1e-3f, 300.0f, 1e-6f, 0.5f};
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) x[r * stride + c] = dist(rng) * gains[(r + c / 128) % 5];
  return x;
}

void expect_matches_host(const std::vector<float>& x, int64_t rows, int64_t cols, int64_t stride,
                         const std::vector<uint8_t>& codes, const std::vector<float>& scales, int64_t srow,
                         int64_t sblock) {
  std::vector<uint8_t> want(128);
  int64_t code_mismatches = 0, scale_mismatches = 0;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t b = 0; b < cols / 128; ++b) {
      const int e = quantize_fp8_block(x.data() + r * stride + b * 128, 128, want.data());
      if (scales[r * srow + b * sblock] != std::ldexp(1.0f, e)) ++scale_mismatches;
      for (int64_t i = 0; i < 128; ++i) code_mismatches += codes[r * cols + b * 128 + i] != want[i];
    }
  }
  EXPECT_EQ(code_mismatches, 0) << "e4m3 codes differ from core/dtype.h's rounding";
  EXPECT_EQ(scale_mismatches, 0) << "block scales differ from the act_quant ue8m0 rule";
}

TEST_F(ActivationQuantTest, CodesAndScalesEqualTheHostRuleInBothScaleLayouts) {
  std::mt19937 rng(17);
  const int64_t rows = 7, cols = 640, stride = 644;
  const auto x = varied_rows(rows, cols, stride, rng);
  DeviceBuffer<float> dx(x);
  DeviceBuffer<uint8_t> codes(static_cast<size_t>(rows * cols));
  DeviceBuffer<float> scales(static_cast<size_t>(rows * cols / 128));
  for (const bool vec128 : {false, true}) {
    codes.poison();
    scales.poison();
    const Fp8Activations out{codes.get(),      scales.get(), rows, cols, vec128 ? 1 : cols / 128,
                             vec128 ? rows : 1};
    ASSERT_TRUE(synced(cuda::quantize_activations(dx.get(), stride, out, nullptr)));
    expect_matches_host(x, rows, cols, stride, codes.download(), scales.download(), out.scale_row_stride,
                        out.scale_block_stride);
  }
}

TEST_F(ActivationQuantTest, RejectsColumnsThatAreNotWholeBlocks) {
  DeviceBuffer<float> dx(200);
  DeviceBuffer<uint8_t> codes(200);
  DeviceBuffer<float> scales(2);
  const Fp8Activations out{codes.get(), scales.get(), 1, 200, 2, 1};
  EXPECT_EQ(cuda::quantize_activations(dx.get(), 200, out, nullptr), cudaErrorInvalidValue);
}

}  // namespace
}  // namespace baleen::test
