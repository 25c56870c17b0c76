// Every backend's products against the float64 truth: matmul over every stored dtype and scale regime,
// the grouped product, the kept-rows product; and the batch invariance the engine relies on (a token's
// output bits do not depend on the tokens beside it). The experts' sum against its float64 formula.
#include <gtest/gtest.h>

#include <cstring>
#include <numeric>

#include "../cpu/quantized_weights.h"
#include "../cpu/random_inputs.h"
#include "../cpu/weight_cases.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/moe.h"
#include "backend_under_test.h"

namespace baleen::test {
namespace {

class Products : public BackendUnderTest {};
BALEEN_FOR_EVERY_BACKEND(Products);

TEST_P(Products, Fp32MatmulMatchesFloat64TruthForOddShapes) {
  std::mt19937 rng(1);
  for (auto [t, in, out] : {std::tuple{1, 37, 13}, {2, 64, 8}, {5, 129, 67}, {16, 256, 130}}) {
    Tensor x = random_tensor({t, in}, rng), w = random_tensor({out, in}, rng), truth({t, out});
    cpu::matmul_reference(x.matrix(), w.matrix(), truth.matrix());
    MatrixView<float> y = rows(t, out);
    backend().matmul(copy_in(x), weight(weight_view(w)), y);
    EXPECT_LT(relative_l2(copy_out(y), truth), 1e-6) << "T=" << t << " in=" << in << " out=" << out;
  }
}

TEST_P(Products, StoredDtypesMatchFloat64TruthAndEachTokenAlone) {
  std::mt19937 rng(22);
  for (const WeightCase& c : weight_cases()) {
    if (!c.finite) continue;
    StoredWeight w;
    c.make(w, rng);
    if (!backend().supports(w.view)) {
      ADD_FAILURE() << GetParam() << " does not read " << c.name;
      continue;
    }
    const WeightView stored = weight(w.view);
    const int64_t t = 5;
    Tensor x = random_tensor({t, w.view.cols}, rng), truth({t, w.view.rows});
    cpu::matmul_reference(x.matrix(), w.view, truth.matrix());
    MatrixView<float> y = rows(t, w.view.rows);
    backend().matmul(copy_in(x), stored, y);
    const Tensor batch = copy_out(y);
    // fp32 accumulation over ≤ 300 products of ~unit terms: relative error ~1e-7.
    EXPECT_LT(relative_l2(batch, truth), 1e-6) << c.name;
    for (int64_t i = 0; i < t; ++i) {
      MatrixView<float> alone = rows(1, w.view.rows);
      backend().matmul(copy_in(x.matrix().rows_slice(i, 1)), stored, alone);
      EXPECT_EQ(0, std::memcmp(copy_out(alone).data(), batch.matrix().row(i), w.view.rows * 4))
          << c.name << ": token " << i << " alone";
    }
  }
}

TEST_P(Products, GroupedMatmulIsBlockDiagonalInFp32AndFp8) {
  std::mt19937 rng(24);
  const int64_t t = 3, groups = 4, in_g = 48, out_g = 64;  // FP8 32×32 blocks: 2 block rows a group
  StoredWeight fp8;
  make_fp8(fp8, groups * out_g, in_g, 32, 32, {DType::kUE8M0, 117, 130}, rng);
  Tensor fp32 = random_tensor({groups * out_g, in_g}, rng);
  Tensor x = random_tensor({t, groups * in_g}, rng);
  for (const WeightView& w : {fp8.view, weight_view(fp32)}) {
    Tensor truth({t, groups * out_g});
    for (int64_t g = 0; g < groups; ++g) {
      MatrixView<const float> xg{x.data() + g * in_g, t, in_g, groups * in_g};
      MatrixView<float> yg{truth.data() + g * out_g, t, out_g, groups * out_g};
      cpu::matmul_reference(xg, w.rows_slice(g * out_g, out_g), yg);
    }
    MatrixView<float> y = rows(t, groups * out_g);
    backend().grouped_matmul(copy_in(x), weight(w), groups, y);
    EXPECT_LT(relative_l2(copy_out(y), truth), 1e-6) << dtype_name(w.dtype);
  }
}

TEST_P(Products, KeptRowsGiveTheDenseProductsBits) {
  std::mt19937 rng(27);
  const int64_t t = 4, in = 96, out = 40;
  Tensor dense = random_tensor({out, in}, rng);
  std::vector<int32_t> kept;
  for (int32_t r = 0; r < out; ++r) {
    if (r % 3 == 1 || r == out - 1) kept.push_back(r);
    else std::fill(dense.matrix().row(r), dense.matrix().row(r) + in, 0.0f);
  }
  Tensor packed({static_cast<int64_t>(kept.size()), in});
  for (size_t i = 0; i < kept.size(); ++i)
    std::memcpy(packed.matrix().row(static_cast<int64_t>(i)), dense.matrix().row(kept[i]), in * 4);
  Tensor x = random_tensor({t, in}, rng);
  const WeightView dense_w = weight(weight_view(dense));
  MatrixView<float> want = rows(t, out), got = rows(t, out);
  backend().matmul(copy_in(x), dense_w, want);
  backend().matmul_kept_rows(copy_in(x), weight(weight_view(packed)), table(kept), dense_w, got);
  const Tensor a = copy_out(got), b = copy_out(want);
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), static_cast<size_t>(a.size()) * 4));
}

// Experts in fp32 and FP4 (the checkpoint's), with the SwiGLU clamp; expert 0 doubles as the shared one.
TEST_P(Products, ExpertsMatchTheirFloat64FormulaInFp32AndFp4) {
  std::mt19937 rng(17);
  const int64_t t = 5, d = 64, f = 96, e = 4, k = 2;
  std::vector<StoredWeight> store(static_cast<size_t>(3 * e));
  std::vector<ExpertWeights> fp4_host, fp32_host;
  for (int64_t i = 0; i < e; ++i) {
    auto* w = &store[static_cast<size_t>(3 * i)];
    make_fp4(w[0], f, d, {DType::kUE8M0, 120, 124}, rng);
    make_fp4(w[1], d, f, {DType::kUE8M0, 118, 122}, rng);
    make_fp4(w[2], f, d, {DType::kUE8M0, 120, 124}, rng);
    fp4_host.push_back({w[0].view, w[1].view, w[2].view});
    fp32_host.push_back({weight_view(w[0].f32), weight_view(w[1].f32), weight_view(w[2].f32)});
  }
  Tensor x = random_tensor({t, d}, rng), route_w = random_tensor({t, k}, rng);
  const std::vector<int32_t> ids = {0, 3, 1, 3, 2, 0, 3, 1, 1, 2};
  Tensor truth({t, d});
  cpu::moe_experts_reference(x.matrix(), {{ids.data(), t, k}, route_w.matrix()}, fp4_host, 2.0f, truth.matrix());
  const std::vector<int32_t> zeros(t, 0);
  Tensor ones({t, 1});
  for (float& v : ones.values()) v = 1.0f;
  cpu::moe_experts_reference(x.matrix(), {{zeros.data(), t, 1}, ones.matrix()}, {&fp4_host[0], 1}, 2.0f,
                             truth.matrix());
  const MoeRoutes routes{{table(ids), t, k}, copy_in(route_w)};
  for (const auto* host : {&fp4_host, &fp32_host}) {
    std::vector<ExpertWeights> experts;
    for (const ExpertWeights& h : *host) experts.push_back({weight(h.w1), weight(h.w2), weight(h.w3)});
    MatrixView<float> out = rows(t, d);
    backend().moe_experts(copy_in(x), routes, experts, experts[0], 2.0f, out);
    EXPECT_LT(relative_l2(copy_out(out), truth), 1e-5) << (host == &fp4_host ? "fp4" : "fp32");
  }
}

}  // namespace
}  // namespace baleen::test
