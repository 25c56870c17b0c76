// Token-wise ops of every backend against their float64 truths (or bit for bit where the op only moves
// values): gather_rows, embed, rms_norm, rope, hadamard, kv_round_trip, the mHC sites and the router.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>

#include "../cpu/random_inputs.h"
#include "backend/cpu/hadamard.h"
#include "backend/cpu/hyper_connections.h"
#include "backend/cpu/moe.h"
#include "backend/cpu/rms_norm.h"
#include "backend/cpu/rope.h"
#include "backend_under_test.h"
#include "core/dtype.h"

namespace baleen::test {
namespace {

class TokenOps : public BackendUnderTest {};
BALEEN_FOR_EVERY_BACKEND(TokenOps);

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), static_cast<size_t>(a.size()) * 4) == 0;
}

TEST_P(TokenOps, GatherRowsAndEmbedCopyRowsBitForBit) {
  std::mt19937 rng(31);
  const int64_t vocab = 50, d = 72, streams = 3;
  Tensor values = random_tensor({vocab, d}, rng);
  const std::vector<int32_t> tokens = {7, 0, 49, 7, 13};
  const int64_t t = static_cast<int64_t>(tokens.size());
  Tensor want({t, d});
  for (int64_t i = 0; i < t; ++i) std::memcpy(want.matrix().row(i), values.matrix().row(tokens[i]), d * 4);
  MatrixView<float> gathered = rows(t, d);
  backend().gather_rows(copy_in(values), table(tokens), gathered);
  EXPECT_TRUE(same_bits(copy_out(gathered), want));

  // embed: n copies of the row, from an f32 and a bf16 table.
  std::vector<uint8_t> bf16(static_cast<size_t>(vocab * d * 2));
  Tensor bf16_values({vocab, d});
  for (int64_t i = 0; i < vocab * d; ++i) {
    const uint16_t b = f32_to_bf16(values.data()[i]);
    std::memcpy(&bf16[2 * i], &b, 2);
    bf16_values.data()[i] = bf16_to_f32(b);
  }
  const WeightView f32_table = weight(weight_view(values));
  const WeightView bf16_table = weight({DType::kBF16, bf16.data(), vocab, d});
  for (const auto& [view, values] : {std::pair{f32_table, &values}, std::pair{bf16_table, &bf16_values}}) {
    MatrixView<float> out = rows(t, streams * d);
    backend().embed(table(tokens), view, streams, out);
    const Tensor got = copy_out(out);
    for (int64_t i = 0; i < t; ++i)
      for (int64_t s = 0; s < streams; ++s)
        EXPECT_EQ(0, std::memcmp(got.matrix().row(i) + s * d, values->matrix().row(tokens[i]), d * 4))
            << "token " << i << " stream " << s;
  }
}

TEST_P(TokenOps, RmsNormWeightedAndUnweightedMatchTruth) {
  std::mt19937 rng(3);
  Tensor x = random_tensor({33, 77}, rng, 3.0f), w = random_tensor({77}, rng);
  for (const bool weighted : {true, false}) {
    Tensor truth({33, 77});
    cpu::rms_norm_reference(x.matrix(), weighted ? w.data() : nullptr, 1e-6f, truth.matrix());
    MatrixView<float> y = rows(33, 77);
    backend().rms_norm(copy_in(x), weighted ? table(w) : nullptr, 1e-6f, y);
    EXPECT_LT(relative_l2(copy_out(y), truth), 1e-6) << (weighted ? "weighted" : "unweighted");
    MatrixView<float> in_place = copy_in(x);
    backend().rms_norm(in_place, weighted ? table(w) : nullptr, 1e-6f, in_place);
    EXPECT_LT(relative_l2(copy_out(in_place), truth), 1e-6) << "in place";
  }
}

TEST_P(TokenOps, RopeRotatesTrailingPairsAndInverseUndoesIt) {
  std::mt19937 rng(4);
  const int64_t heads = 3, d = 48, r = 16;
  Tensor x = random_tensor({9, heads * d}, rng);
  std::vector<float> inv_freq(r / 2);
  for (int64_t i = 0; i < r / 2; ++i) inv_freq[i] = std::pow(10000.0f, -2.0f * i / r);
  const std::vector<int64_t> pos = {0, 1, 5, 17, 100, 1000, 4097, 65536, 3};
  Tensor truth = x;
  cpu::rope_reference(truth.matrix(), d, pos.data(), {inv_freq.data(), r}, false);
  const RopeFrequencies f{table(inv_freq), r};
  MatrixView<float> y = copy_in(x);
  backend().rope(y, d, table(pos), f, false);
  const Tensor rotated = copy_out(y);
  EXPECT_LT(relative_l2(rotated, truth), 1e-6);
  for (int64_t h = 0; h < heads; ++h) EXPECT_EQ(rotated.matrix()(4, h * d + 7), x.matrix()(4, h * d + 7));
  backend().rope(y, d, table(pos), f, true);
  EXPECT_LT(relative_l2(copy_out(y), x), 1e-5);
}

TEST_P(TokenOps, HadamardMatchesMatrixTruthAndIsItsOwnInverse) {
  std::mt19937 rng(5);
  Tensor x = random_tensor({6, 128}, rng);
  Tensor truth = x;
  cpu::hadamard_reference(truth.matrix());
  MatrixView<float> y = copy_in(x);
  backend().hadamard(y);
  EXPECT_LT(relative_l2(copy_out(y), truth), 1e-6);
  backend().hadamard(y);
  EXPECT_LT(relative_l2(copy_out(y), x), 1e-6);
}

TEST_P(TokenOps, KvRoundTripIsTheCodecsRoundTripBitForBit) {
  std::mt19937 rng(6);
  const int64_t t = 5;
  for (const KvCodec& codec : {KvCodec(KvFormat::kFp8Rope, 512, 64), KvCodec(KvFormat::kFp4, 128, 0),
                               KvCodec(KvFormat::kF32, 96, 0)}) {
    Tensor x = random_tensor({t, codec.dim()}, rng, 2.0f);
    Tensor want = x;
    for (int64_t i = 0; i < t; ++i) codec.round_trip(want.matrix().row(i));
    MatrixView<float> y = copy_in(x);
    backend().kv_round_trip(codec, y);
    EXPECT_TRUE(same_bits(copy_out(y), want)) << "format " << static_cast<int>(codec.format());
  }
}

struct Site {
  Tensor fn, base, scale;
};

Site random_site(int64_t n, int64_t d, int64_t outputs, std::mt19937& rng) {
  return {random_tensor({outputs, n * d}, rng, 0.05f), random_tensor({outputs}, rng), random_tensor({3}, rng)};
}

HyperConnectionParams params(const float* fn, const float* base, const float* scale, int64_t n, int64_t d) {
  return {fn, base, scale, n, d, 20, 1e-6f, 1e-6f};
}

TEST_P(TokenOps, HyperConnectionSitesMatchTheirTruths) {
  std::mt19937 rng(7);
  const int64_t n = 4, d = 40, t = 5;
  Tensor streams = random_tensor({t, n * d}, rng, 2.0f);
  {  // pre: x, post, comb
    Site site = random_site(n, d, (2 + n) * n, rng);
    Tensor x0({t, d}), post0({t, n}), comb0({t, n * n});
    cpu::hc_pre_reference(streams.matrix(), params(site.fn.data(), site.base.data(), site.scale.data(), n, d),
                          x0.matrix(), post0.matrix(), comb0.matrix());
    MatrixView<float> x = rows(t, d), post = rows(t, n), comb = rows(t, n * n);
    backend().hc_pre(copy_in(streams), params(table(site.fn), table(site.base), table(site.scale), n, d), x, post,
                     comb);
    EXPECT_LT(relative_l2(copy_out(x), x0), 1e-5);
    EXPECT_LT(relative_l2(copy_out(post), post0), 1e-5);
    const Tensor c = copy_out(comb);
    EXPECT_LT(relative_l2(c, comb0), 1e-5);
    for (int64_t j = 0; j < n; ++j) {  // 20 Sinkhorn iterations end on columns: each sums to ~1
      double column = 0;
      for (int64_t i = 0; i < n; ++i) column += c.matrix()(2, i * n + j);
      EXPECT_NEAR(column, 1.0, 1e-4);
    }
  }
  {  // post
    Tensor y = random_tensor({t, d}, rng), post = random_tensor({t, n}, rng), comb = random_tensor({t, n * n}, rng);
    Tensor truth({t, n * d});
    cpu::hc_post_reference(y.matrix(), post.matrix(), comb.matrix(), streams.matrix(), truth.matrix());
    MatrixView<float> out = rows(t, n * d);
    backend().hc_post(copy_in(y), copy_in(post), copy_in(comb), copy_in(streams), out);
    const Tensor got = copy_out(out);
    EXPECT_LT(relative_l2(got, truth), 1e-6);
    // out_1[0] = post_1·y[0] + Σ_j C[j][1]·X_j[0]: comb is applied transposed.
    double want = post.matrix()(0, 1) * y.matrix()(0, 0);
    for (int64_t j = 0; j < n; ++j) want += comb.matrix()(0, j * n + 1) * streams.matrix()(0, j * d);
    EXPECT_NEAR(got.matrix()(0, d), want, 1e-5);
  }
  {  // head
    Site site = random_site(n, d, n, rng);
    Tensor truth({t, d});
    cpu::hc_head_reference(streams.matrix(), params(site.fn.data(), site.base.data(), site.scale.data(), n, d),
                           truth.matrix());
    MatrixView<float> y = rows(t, d);
    backend().hc_head(copy_in(streams), params(table(site.fn), table(site.base), table(site.scale), n, d), y);
    EXPECT_LT(relative_l2(copy_out(y), truth), 1e-6);
  }
}

TEST_P(TokenOps, RouterPicksTheTruthsExpertsLearnedAndHashed) {
  std::mt19937 rng(14);
  const int64_t t = 6, e = 16, k = 3, vocab = 10;
  Tensor logits = random_tensor({t, e}, rng, 3.0f), bias = random_tensor({e}, rng, 0.5f);
  std::vector<int32_t> hash(vocab * k);
  for (int64_t v = 0; v < vocab; ++v)
    for (int64_t i = 0; i < k; ++i) hash[v * k + i] = static_cast<int32_t>((v + 5 * i) % e);
  const std::vector<int32_t> tokens = {7, 2, 9, 0, 3, 3};
  for (const bool hashed : {false, true}) {
    std::vector<int32_t> ids0(t * k);
    Tensor w0({t, k});
    cpu::moe_route_reference(logits.matrix(), hashed ? nullptr : bias.data(), hashed ? hash.data() : nullptr,
                             hashed ? tokens.data() : nullptr, 1.5f, {ids0.data(), t, k}, w0.matrix());
    MatrixView<int32_t> ids = int_rows(t, k);
    MatrixView<float> w = rows(t, k);
    backend().moe_route(copy_in(logits), hashed ? nullptr : table(bias), hashed ? table(hash) : nullptr,
                        hashed ? table(tokens) : nullptr, 1.5f, ids, w);
    EXPECT_EQ(copy_out(ids), ids0) << (hashed ? "hash" : "learned");
    EXPECT_LT(relative_l2(copy_out(w), w0), 1e-6) << (hashed ? "hash" : "learned");
  }
}

}  // namespace
}  // namespace baleen::test
