#include "model/kv_codec.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <random>
#include <vector>

#include "core/dtype.h"

namespace baleen {
namespace {

// The nearest value of a code table (ties: the one with the smaller magnitude code index parity aside,
// checked only off ties here), brute force in float64.
double nearest(const std::vector<double>& table, double x) {
  double best = table[0];
  for (double v : table) {
    if (std::fabs(v - x) < std::fabs(best - x)) best = v;
  }
  return best;
}

std::vector<double> e4m3_table() {
  std::vector<double> t;
  for (int c = 0; c < 256; ++c) {
    const float v = fp8_e4m3_to_f32(static_cast<uint8_t>(c));
    if (std::isfinite(v)) t.push_back(v);
  }
  return t;
}

double pow2_at_or_above(double v) {
  return std::exp2(std::ceil(std::log2(v)));
}

TEST(KvCodec, Fp8RopeRowQuantizesNopeBlocksAndKeepsRopeInBf16) {
  const int64_t dim = 160, rope = 32;  // nope 128 = two blocks of 64
  const KvCodec codec(KvFormat::kFp8Rope, dim, rope);
  EXPECT_EQ(codec.data_bytes(), 128 + 64);
  EXPECT_EQ(codec.scale_bytes(), 4);  // two scales, padded to 4
  std::mt19937 rng(21);
  std::normal_distribution<float> dist(0.0f, 3.0f);
  std::vector<float> row(dim), back(dim);
  for (float& v : row) v = dist(rng);
  std::vector<uint8_t> bytes(static_cast<size_t>(codec.row_bytes()));
  codec.encode(row.data(), bytes.data(), bytes.data() + codec.data_bytes());
  codec.decode(bytes.data(), bytes.data() + codec.data_bytes(), back.data());
  const auto table = e4m3_table();
  for (int64_t b = 0; b < 2; ++b) {
    double amax = 0;
    for (int64_t i = 0; i < 64; ++i) amax = std::max(amax, std::fabs(double(row[b * 64 + i])));
    const double scale = pow2_at_or_above(amax / 448.0);
    for (int64_t i = 0; i < 64; ++i) {
      const int64_t k = b * 64 + i;
      EXPECT_EQ(back[k], nearest(table, row[k] / scale) * scale) << "dim " << k;
    }
  }
  for (int64_t i = 128; i < dim; ++i) EXPECT_EQ(back[i], bf16_to_f32(f32_to_bf16(row[i])));
}

TEST(KvCodec, Fp4RowUsesPowerOfTwoScalesPer32AndLowNibbleFirst) {
  const int64_t dim = 64;
  const KvCodec codec(KvFormat::kFp4, dim, 0);
  EXPECT_EQ(codec.data_bytes(), 32);
  EXPECT_EQ(codec.scale_bytes(), 4);
  std::mt19937 rng(22);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> row(dim), back(dim);
  for (float& v : row) v = dist(rng);
  std::vector<uint8_t> bytes(static_cast<size_t>(codec.row_bytes()));
  codec.encode(row.data(), bytes.data(), bytes.data() + 32);
  codec.decode(bytes.data(), bytes.data() + 32, back.data());
  const std::vector<double> table = {-6, -4, -3, -2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2, 3, 4, 6};
  for (int64_t b = 0; b < 2; ++b) {
    double amax = 0;
    for (int64_t i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(double(row[b * 32 + i])));
    const double scale = pow2_at_or_above(amax / 6.0);
    EXPECT_EQ(ue8m0_to_f32(bytes[32 + b]), scale);
    for (int64_t i = 0; i < 32; ++i) {
      const int64_t k = b * 32 + i;
      EXPECT_EQ(back[k], nearest(table, row[k] / scale) * scale) << "dim " << k;
    }
  }
  EXPECT_EQ(fp4_e2m1_to_f32(bytes[0] & 0xF) * ue8m0_to_f32(bytes[32]), back[0]);
}

// decode's vector and table paths against the scalar conversions, for every code (NaN codes included) under
// every finite scale byte (0xFF is NaN, and NaN × NaN keeps either operand's sign), in a row whose nope part ends in a partial vector (100 = 64 + 32 + 4) and whose rope part
// does too (12 = 8 + 4): the same bits.
TEST(KvCodec, DecodeGivesTheScalarConversionsBitsForEveryCodeAndScale) {
  std::mt19937 rng(5);
  const KvCodec fp8(KvFormat::kFp8Rope, 112, 12), fp4(KvFormat::kFp4, 70, 0);
  for (int s = 0; s < 255; ++s) {
    for (int rep = 0; rep < 4; ++rep) {
      std::vector<uint8_t> data(static_cast<size_t>(fp8.data_bytes())), scales(static_cast<size_t>(fp8.scale_bytes()));
      for (uint8_t& b : data) b = static_cast<uint8_t>(rng());
      for (int64_t i = 0; i < 100; ++i) data[static_cast<size_t>(i)] = static_cast<uint8_t>(i + 100 * rep + s);
      for (uint8_t& b : scales) b = static_cast<uint8_t>(s);
      std::vector<float> row(112);
      fp8.decode(data.data(), scales.data(), row.data());
      for (int64_t i = 0; i < 112; ++i) {
        float want;
        if (i < 100) {
          want = fp8_e4m3_to_f32(data[static_cast<size_t>(i)]) * ue8m0_to_f32(static_cast<uint8_t>(s));
        } else {
          want = bf16_to_f32(static_cast<uint16_t>(data[100 + 2 * (i - 100)] | data[101 + 2 * (i - 100)] << 8));
        }
        ASSERT_EQ(std::bit_cast<uint32_t>(row[static_cast<size_t>(i)]), std::bit_cast<uint32_t>(want))
            << "element " << i << " code " << int(data[static_cast<size_t>(i < 100 ? i : 0)]) << " scale " << s;
      }
      std::vector<uint8_t> packed(static_cast<size_t>(fp4.data_bytes())), scales4(static_cast<size_t>(fp4.scale_bytes()));
      for (uint8_t& b : packed) b = static_cast<uint8_t>(rng());
      for (uint8_t& b : scales4) b = static_cast<uint8_t>(s);
      std::vector<float> row4(70);
      fp4.decode(packed.data(), scales4.data(), row4.data());
      for (int64_t k = 0; k < 70; ++k) {
        const float want = fp4_e2m1_to_f32(static_cast<uint8_t>(packed[static_cast<size_t>(k / 2)] >> (4 * (k % 2)))) *
                           ue8m0_to_f32(static_cast<uint8_t>(s));
        ASSERT_EQ(std::bit_cast<uint32_t>(row4[static_cast<size_t>(k)]), std::bit_cast<uint32_t>(want)) << k;
      }
    }
  }
}

TEST(KvCodec, F32IsExact) {
  const KvCodec codec(KvFormat::kF32, 5, 2);
  std::vector<float> row = {1.5f, -2.25f, 3e-9f, 7.0f, -0.0f}, back(5);
  std::vector<uint8_t> bytes(20);
  codec.encode(row.data(), bytes.data(), nullptr);
  codec.decode(bytes.data(), nullptr, back.data());
  EXPECT_EQ(row, back);
}

TEST(KvCodec, V4RowIsFlashMlasFiveHundredEightyFourBytes) {
  const KvCodec codec(KvFormat::kFp8Rope, 512, 64);
  EXPECT_EQ(codec.data_bytes(), 448 + 2 * 64);
  EXPECT_EQ(codec.row_bytes(), 584);
  EXPECT_EQ(KvCodec(KvFormat::kFp4, 128, 0).row_bytes(), 64 + 4);
}

TEST(KvPageLayout, DataPartsThenScalePartsWithinAPage) {
  const KvPageLayout page{KvCodec(KvFormat::kFp8Rope, 512, 64), 64};
  std::vector<uint8_t> bytes(static_cast<size_t>(page.page_bytes()));
  EXPECT_EQ(page.data(bytes.data(), 3) - bytes.data(), 3 * 576);
  EXPECT_EQ(page.scales(bytes.data(), 3) - bytes.data(), 64 * 576 + 3 * 8);
  EXPECT_EQ(page.page_bytes(), 64 * 584);
}

}  // namespace
}  // namespace baleen
