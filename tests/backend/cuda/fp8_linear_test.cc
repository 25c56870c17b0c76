// The FP8 linear paths against cpu::matmul_reference (float64) on the same dequantized inputs: the GPU's
// products of e4m3 codes are exact, so what remains is fp32 accumulation inside the tensor cores and across
// 128-blocks: the tests allow 1e-3 relative L2 (measured errors are printed).
#include "backend/cuda/fp8_linear.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>

#include "../cpu/random_inputs.h"
#include "backend/cpu/matmul.h"
#include "device_test_support.h"

namespace baleen::test {
namespace {

using cuda::Fp8Activations;
using cuda::Fp8Weight;

class Fp8LinearTest : public CudaTest {};

struct HostWeight {
  std::vector<uint8_t> codes, ue8m0;
  std::vector<float> f32_scales;
  Tensor dequantized;
};

HostWeight random_weight(int64_t rows, int64_t cols, bool ue8m0, std::mt19937& rng) {
  HostWeight w;
  w.codes = random_e4m3(static_cast<size_t>(rows * cols), rng);
  const int64_t rb = (rows + 127) / 128, cb = cols / 128;
  w.ue8m0 = random_ue8m0(static_cast<size_t>(rb * cb), rng, 112, 118);
  std::uniform_real_distribution<float> s(1e-4f, 3e-3f);
  w.f32_scales.resize(w.ue8m0.size());
  for (auto& v : w.f32_scales) v = s(rng);
  w.dequantized = Tensor({rows, cols});
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const size_t b = static_cast<size_t>(r / 128 * cb + c / 128);
      const float scale = ue8m0 ? ue8m0_to_f32(w.ue8m0[b]) : w.f32_scales[b];
      w.dequantized.data()[r * cols + c] =
          fp8_e4m3_to_f32(w.codes[static_cast<size_t>(r * cols + c)]) * scale;
    }
  return w;
}

// x quantized on the device (the path under test's input) and the same values dequantized on the host.
struct QuantizedInput {
  DeviceBuffer<uint8_t> codes;
  DeviceBuffer<float> scales;
  Fp8Activations view;
  Tensor dequantized;

  QuantizedInput(int64_t rows, int64_t cols, bool vec128, std::mt19937& rng)
      : codes(static_cast<size_t>(rows * cols)), scales(static_cast<size_t>(rows * cols / 128)) {
    const Tensor x = random_tensor({rows, cols}, rng);
    DeviceBuffer<float> dx(std::vector<float>(x.values().begin(), x.values().end()));
    view = {codes.get(), scales.get(), rows, cols, vec128 ? 1 : cols / 128, vec128 ? rows : 1};
    EXPECT_TRUE(synced(cuda::quantize_activations(dx.get(), cols, view, nullptr)));
    const auto c = codes.download();
    const auto s = scales.download();
    dequantized = Tensor({rows, cols});
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t k = 0; k < cols; ++k)
        dequantized.data()[r * cols + k] =
            fp8_e4m3_to_f32(c[static_cast<size_t>(r * cols + k)]) *
            s[static_cast<size_t>(r * view.scale_row_stride + k / 128 * view.scale_block_stride)];
  }
};

struct DeviceWeight {
  DeviceBuffer<uint8_t> codes, ue8m0;
  DeviceBuffer<float> f32_scales;
  Fp8Weight view;
  DeviceWeight(const HostWeight& w, int64_t rows, int64_t cols, bool ue8m0_scales)
      : codes(w.codes), ue8m0(w.ue8m0), f32_scales(w.f32_scales) {
    view = {codes.get(), ue8m0_scales ? static_cast<const void*>(ue8m0.get()) : f32_scales.get(),
            ue8m0_scales, rows, cols};
  }
};

Tensor reference(const Tensor& x, const Tensor& w) {
  Tensor y({x.dim(0), w.dim(0)});
  cpu::matmul_reference(x.matrix(), w.matrix(), y.matrix());
  return y;
}

struct DecodeCase {
  int64_t tokens, rows, cols;
  bool ue8m0;
};

class Fp8LinearDecodeTest : public Fp8LinearTest, public ::testing::WithParamInterface<DecodeCase> {};

TEST_P(Fp8LinearDecodeTest, MatchesFloat64ReferenceAndIsDeterministic) {
  const auto [tokens, rows, cols, ue8m0] = GetParam();
  std::mt19937 rng(static_cast<unsigned>(tokens * 7919 + rows + cols));
  const HostWeight hw = random_weight(rows, cols, ue8m0, rng);
  DeviceWeight w(hw, rows, cols, ue8m0);
  QuantizedInput x(tokens, cols, false, rng);
  const int64_t ldy = rows + 8;
  DeviceBuffer<float> y(static_cast<size_t>(tokens * ldy));
  const size_t ws_bytes = cuda::fp8_linear_decode_workspace_bytes(tokens, w.view);
  DeviceBuffer<uint8_t> ws(ws_bytes);
  cudaMemset(ws.get(), 0, ws_bytes);
  std::vector<float> first;
  for (int run = 0; run < 2; ++run) {
    y.poison();
    ASSERT_TRUE(synced(cuda::fp8_linear_decode(x.view, w.view, y.get(), ldy, ws.get(), ws_bytes, nullptr)));
    const auto got = y.download();
    if (run == 0) first = got;
    EXPECT_EQ(std::memcmp(first.data(), got.data(), got.size() * sizeof(float)), 0)
        << "run-to-run bits differ";
  }
  const Tensor want = reference(x.dequantized, hw.dequantized);
  Tensor got({tokens, rows});
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t r = 0; r < rows; ++r) got.data()[t * rows + r] = first[static_cast<size_t>(t * ldy + r)];
  const double err = relative_l2(got, want);
  EXPECT_LT(err, 1e-3) << "tokens " << tokens << " rows " << rows << " cols " << cols << " workspace "
                       << ws_bytes;
  std::printf("fp8_linear_decode M=%ld N=%ld K=%ld %s: rel L2 %.2e (split workspace %zu B)\n", long(tokens),
              long(rows), long(cols), ue8m0 ? "ue8m0" : "f32", err, ws_bytes);
}

INSTANTIATE_TEST_SUITE_P(Shapes, Fp8LinearDecodeTest,
                         ::testing::Values(DecodeCase{1, 1024, 4096, true}, DecodeCase{5, 512, 1024, false},
                                           DecodeCase{32, 256, 512, true}, DecodeCase{17, 2048, 256, true},
                                           DecodeCase{9, 4096, 8192, false}));

TEST_F(Fp8LinearTest, DecodeRejectsTooManyTokens) {
  std::mt19937 rng(3);
  const HostWeight hw = random_weight(128, 256, true, rng);
  DeviceWeight w(hw, 128, 256, true);
  QuantizedInput x(33, 256, false, rng);
  DeviceBuffer<float> y(33 * 128);
  EXPECT_EQ(cuda::fp8_linear_decode(x.view, w.view, y.get(), 128, nullptr, 0, nullptr),
            cudaErrorInvalidValue);
}

TEST_F(Fp8LinearTest, PrefillThroughCublasLtMatchesFloat64Reference) {
  std::mt19937 rng(29);
  const int64_t tokens = 256, rows = 384, cols = 1024;
  const HostWeight hw = random_weight(rows, cols, false, rng);
  DeviceWeight w(hw, rows, cols, false);
  QuantizedInput x(tokens, cols, true, rng);
  DeviceBuffer<float> y(static_cast<size_t>(tokens * rows));
  y.poison();
  const size_t ws_bytes = size_t{32} << 20;
  DeviceBuffer<uint8_t> ws(ws_bytes);
  cuda::PrefillContext* context = cuda::create_prefill_context();
  ASSERT_NE(context, nullptr);
  ASSERT_TRUE(
      synced(cuda::fp8_linear_prefill(context, x.view, w.view, y.get(), ws.get(), ws_bytes, nullptr)));
  cuda::destroy_prefill_context(context);
  const auto host = y.download();
  Tensor got({tokens, rows});
  std::copy(host.begin(), host.end(), got.data());
  const double err = relative_l2(got, reference(x.dequantized, hw.dequantized));
  EXPECT_LT(err, 1e-3);
  std::printf("fp8_linear_prefill M=%ld N=%ld K=%ld: rel L2 %.2e\n", long(tokens), long(rows), long(cols),
              err);
}

}  // namespace
}  // namespace baleen::test
