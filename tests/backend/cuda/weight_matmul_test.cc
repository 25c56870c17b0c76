// The CUDA backend's general linear layers (backend/cuda/weight_matmul.cu) through the Backend seam, for
// every stored dtype, in the layouts its 16-byte chunk reader takes (DeepSeek's 128×128 FP8 blocks, FP4
// per 32, BF16, F32) and the ones it leaves to the element reader (odd widths, blocks off the chunk grid,
// x rows that are not 16-byte aligned):
//   - against the float64 product of the weight's load_f32 copy: |got − want| ≤ 1e-5·Σ|x·w| + 1e-30 per value;
//   - batch invariance, bit for bit: each token of a 19-token product (tiles of 8) equals that token alone
//     (a tile of 1) and in a product of 3 (a tile of 4), what the engine's "sessions in one forward give
//     the bits of each alone" stands on;
//   - the routed-expert mix against its float64 formula.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <functional>
#include <string>

#include "../cpu/quantized_weights.h"
#include "../cpu/random_inputs.h"
#include "backend/cpu/matmul.h"
#include "backend/cuda/cuda_backend.h"
#include "device_test_support.h"

namespace baleen::test {
namespace {

class WeightMatmulTest : public CudaTest {
 protected:
  void SetUp() override {
    CudaTest::SetUp();
    if (!IsSkipped()) backend = make_cuda_backend(0);
  }
  // x [t, cols] on the device with row stride `stride`; its buffer lives until the backend's end.
  MatrixView<const float> device_rows(const std::vector<float>& host, int64_t t, int64_t cols, int64_t stride) {
    const auto* p = static_cast<const float*>(backend->upload(host.data(), static_cast<int64_t>(host.size()) * 4));
    return {p, t, cols, stride};
  }
  std::vector<float> product(MatrixView<const float> x, const WeightView& w) {
    auto* y = static_cast<float*>(backend->allocate(x.rows * w.rows * 4));
    backend->matmul(x, w, {y, x.rows, w.rows});
    std::vector<float> out(static_cast<size_t>(x.rows * w.rows));
    backend->download(y, out.data(), static_cast<int64_t>(out.size()) * 4);
    backend->release(y);
    return out;
  }
  std::unique_ptr<Backend> backend;
};

struct Case {
  std::string name;
  std::function<void(StoredWeight&, std::mt19937&)> make;
  int64_t pad = 0;  // x's row stride − cols: 1 makes the rows unaligned
};

std::vector<Case> cases() {
  const ScaleDraw ue8m0{DType::kUE8M0, 117, 130}, f32{DType::kF32, 1, 900};
  return {
      {"fp8 [200, 512] 128x128 ue8m0", [=](auto& w, auto& rng) { make_fp8(w, 200, 512, 128, 128, ue8m0, rng); }},
      {"fp8 [130, 256] 128x128 f32 scales", [=](auto& w, auto& rng) { make_fp8(w, 130, 256, 128, 128, f32, rng); }},
      {"fp8 [75, 96] 32x32 ue8m0", [=](auto& w, auto& rng) { make_fp8(w, 75, 96, 32, 32, ue8m0, rng); }},
      {"fp8 [23, 45] 5x12 (element reader)", [=](auto& w, auto& rng) { make_fp8(w, 23, 45, 5, 12, f32, rng); }},
      {"fp8 [41, 256] x rows unaligned", [=](auto& w, auto& rng) { make_fp8(w, 41, 256, 128, 128, ue8m0, rng); }, 1},
      {"fp4 [37, 256] ue8m0", [=](auto& w, auto& rng) { make_fp4(w, 37, 256, ue8m0, rng); }},
      {"fp4 [21, 96] f32 scales", [=](auto& w, auto& rng) { make_fp4(w, 21, 96, f32, rng); }},
      {"fp4 [37, 90] (element reader)", [=](auto& w, auto& rng) { make_fp4(w, 37, 90, ue8m0, rng); }},
      {"fp4 ue8m0 2^-127..2^103", [](auto& w, auto& rng) { make_fp4(w, 13, 64, {DType::kUE8M0, 0, 230}, rng); }},
      {"bf16 [45, 320]", [](auto& w, auto& rng) { make_bf16(w, 45, 320, rng); }},
      {"bf16 [45, 300] (element reader)", [](auto& w, auto& rng) { make_bf16(w, 45, 300, rng); }},
      // Rows dealt to 4 or 2 passes of the warp's lanes, whose sums are added in order: side by side in
      // several warps (few rows), and for the 2,900 rows in turn in one warp at 19 tokens but side by side
      // for the lone and the 3-token products below, which must give the same bits.
      {"fp8 [40, 4096] 4 passes", [=](auto& w, auto& rng) { make_fp8(w, 40, 4096, 128, 128, ue8m0, rng); }},
      {"bf16 [70, 1024] 2 passes", [](auto& w, auto& rng) { make_bf16(w, 70, 1024, rng); }},
      {"fp4 [24, 4096] 2 passes", [=](auto& w, auto& rng) { make_fp4(w, 24, 4096, ue8m0, rng); }},
      {"fp8 [33, 1000] 4 passes (element reader)",
       [=](auto& w, auto& rng) { make_fp8(w, 33, 1000, 128, 128, f32, rng); }},
      {"bf16 [2900, 1024] 2 passes in turn and side by side",
       [](auto& w, auto& rng) { make_bf16(w, 2900, 1024, rng); }},
  };
}

std::vector<float> random_values(int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = normal(rng);
  return v;
}

TEST_F(WeightMatmulTest, EveryDtypeMatchesTheFloat64ProductAndEachTokenAlone) {
  std::mt19937 rng(17);
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    StoredWeight w;
    c.make(w, rng);
    const WeightView dw = backend->upload_weight(w.view, HostMemory::kTransient);
    const int64_t t = 19, cols = w.view.cols, stride = cols + c.pad;
    const std::vector<float> xh = random_values(t * stride, rng);
    const std::vector<float> y = product(device_rows(xh, t, cols, stride), dw);
    int64_t bad = 0;
    for (int64_t i = 0; i < t; ++i) {
      for (int64_t o = 0; o < w.view.rows; ++o) {
        double want = 0, mag = 0;
        for (int64_t k = 0; k < cols; ++k) {
          const double p = double(xh[static_cast<size_t>(i * stride + k)]) * w.f32.data()[o * cols + k];
          want += p, mag += std::fabs(p);
        }
        const double got = y[static_cast<size_t>(i * w.view.rows + o)];
        if (!(std::fabs(got - want) <= 1e-5 * mag + 1e-30) && bad++ < 3) {
          ADD_FAILURE() << "token " << i << " row " << o << ": " << got << " vs " << want;
        }
      }
    }
    EXPECT_EQ(bad, 0);
    for (int64_t i : {0, 7, 8, 16}) {  // within and across the token tiles of 8
      const std::vector<float> one(xh.begin() + i * stride, xh.begin() + (i + 1) * stride);
      const std::vector<float> alone = product(device_rows(one, 1, cols, stride), dw);
      EXPECT_EQ(std::memcmp(alone.data(), y.data() + i * w.view.rows, alone.size() * 4), 0) << "token " << i;
      const std::vector<float> three(xh.begin() + i * stride, xh.begin() + (i + 3) * stride);
      const std::vector<float> few = product(device_rows(three, 3, cols, stride), dw);
      EXPECT_EQ(std::memcmp(few.data(), y.data() + i * w.view.rows, few.size() * 4), 0) << "tokens " << i << "+3";
    }
  }
}

TEST_F(WeightMatmulTest, ExpertMixMatchesItsFloat64Formula) {
  std::mt19937 rng(5);
  const int64_t hidden = 256, inter = 64, n_experts = 6, k = 2, tokens = 5;
  const float limit = 2.5f;
  const ScaleDraw ue8m0{DType::kUE8M0, 120, 126};
  std::vector<std::unique_ptr<StoredWeight>> stored;
  const auto weight = [&](int64_t rows, int64_t cols, bool fp4) {
    stored.push_back(std::make_unique<StoredWeight>());
    if (fp4) make_fp4(*stored.back(), rows, cols, ue8m0, rng);
    else make_fp8(*stored.back(), rows, cols, 128, 128, ue8m0, rng);
    return backend->upload_weight(stored.back()->view, HostMemory::kTransient);
  };
  std::vector<ExpertWeights> experts;
  for (int64_t e = 0; e < n_experts; ++e) experts.push_back({weight(inter, hidden, true), weight(hidden, inter, true),
                                                             weight(inter, hidden, true)});
  const ExpertWeights shared{weight(inter, hidden, false), weight(hidden, inter, false), weight(inter, hidden, false)};
  const std::vector<float> xh = random_values(tokens * hidden, rng);
  // Distinct routes per token, one out of range (it contributes nothing), weights in (0, 1).
  const std::vector<int32_t> ids = {3, 1, 0, 5, 2, 4, 4, -1, 1, 0};
  std::vector<float> gates(static_cast<size_t>(tokens * k));
  std::uniform_real_distribution<float> unit(0.05f, 0.95f);
  for (auto& g : gates) g = unit(rng);
  const auto* xd = static_cast<const float*>(backend->upload(xh.data(), tokens * hidden * 4));
  const auto* id = static_cast<const int32_t*>(backend->upload(ids.data(), tokens * k * 4));
  const auto* gd = static_cast<const float*>(backend->upload(gates.data(), tokens * k * 4));
  auto* out = static_cast<float*>(backend->allocate(tokens * hidden * 4));
  backend->moe_experts({xd, tokens, hidden}, {{id, tokens, k}, {gd, tokens, k}}, experts, shared, limit,
                       {out, tokens, hidden});
  std::vector<float> got(static_cast<size_t>(tokens * hidden));
  backend->download(out, got.data(), tokens * hidden * 4);

  // stored[] holds, per expert, w1 w2 w3, then the shared expert's three.
  const auto expert_out = [&](int64_t e, int64_t t, std::vector<double>& y) {
    const Tensor& w1 = stored[static_cast<size_t>(3 * e)]->f32;
    const Tensor& w2 = stored[static_cast<size_t>(3 * e + 1)]->f32;
    const Tensor& w3 = stored[static_cast<size_t>(3 * e + 2)]->f32;
    std::vector<double> h(static_cast<size_t>(inter));
    for (int64_t f = 0; f < inter; ++f) {
      double g = 0, u = 0;
      for (int64_t c = 0; c < hidden; ++c) {
        g += double(w1.data()[f * hidden + c]) * xh[static_cast<size_t>(t * hidden + c)];
        u += double(w3.data()[f * hidden + c]) * xh[static_cast<size_t>(t * hidden + c)];
      }
      g = std::min<double>(g, limit);
      u = std::clamp<double>(u, -limit, limit);
      h[static_cast<size_t>(f)] = g / (1 + std::exp(-g)) * u;
    }
    for (int64_t c = 0; c < hidden; ++c) {
      double s = 0;
      for (int64_t f = 0; f < inter; ++f) s += double(w2.data()[c * inter + f]) * h[static_cast<size_t>(f)];
      y[static_cast<size_t>(c)] = s;
    }
  };
  for (int64_t t = 0; t < tokens; ++t) {
    std::vector<double> want(static_cast<size_t>(hidden), 0.0), y(static_cast<size_t>(hidden));
    for (int64_t j = 0; j < k; ++j) {
      const int32_t e = ids[static_cast<size_t>(t * k + j)];
      if (e < 0) continue;
      expert_out(e, t, y);
      for (int64_t c = 0; c < hidden; ++c) want[static_cast<size_t>(c)] += gates[static_cast<size_t>(t * k + j)] * y[static_cast<size_t>(c)];
    }
    expert_out(n_experts, t, y);
    for (int64_t c = 0; c < hidden; ++c) want[static_cast<size_t>(c)] += y[static_cast<size_t>(c)];
    const double err = relative_l2(got.data() + t * hidden,
                                   std::vector<float>(want.begin(), want.end()).data(), hidden);
    EXPECT_LT(err, 1e-5) << "token " << t;
  }
}

}  // namespace
}  // namespace baleen::test
