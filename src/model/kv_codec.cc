#include "model/kv_codec.h"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "core/dtype.h"
#include "core/error.h"

namespace baleen {
namespace {

constexpr int64_t kMaxRowBytes = 8192;

int64_t blocks(int64_t n, int64_t block) {
  return (n + block - 1) / block;
}

int64_t padded_to_4(int64_t n) {
  return (n + 3) / 4 * 4;
}

// The exponent e of the smallest power of two 2^e ≥ v (v > 0), exactly.
int pow2_ceil_exponent(float v) {
  int e = 0;
  const float m = std::frexp(v, &e);  // v = m·2^e, m in [0.5, 1)
  return m == 0.5f ? e - 1 : e;
}

// Quantizes one block to `encode_value` codes with a ue8m0 scale byte; returns the scale byte.
template <typename Encode>
uint8_t quantize_block(const float* x, int64_t n, float max_code, float amax_floor, Encode&& encode_value) {
  float amax = amax_floor;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  const int e = std::clamp(pow2_ceil_exponent(amax / max_code), -127, 127);
  const float inv_scale = std::ldexp(1.0f, -e);
  for (int64_t i = 0; i < n; ++i) encode_value(i, x[i] * inv_scale);
  return static_cast<uint8_t>(e + 127);
}

}  // namespace

KvCodec::KvCodec(KvFormat format, int64_t dim, int64_t rope_dim)
    : format_(format), dim_(dim), rope_dim_(rope_dim) {
  const int64_t nope = dim - rope_dim;
  switch (format) {
    case KvFormat::kF32:
      data_bytes_ = 4 * dim;
      break;
    case KvFormat::kFp8Rope:
      data_bytes_ = nope + 2 * rope_dim;
      scale_bytes_ = padded_to_4(blocks(nope, kFp8ScaleBlock));
      break;
    case KvFormat::kFp4:
      data_bytes_ = (dim + 1) / 2;
      scale_bytes_ = padded_to_4(blocks(dim, kFp4ScaleBlock));
      break;
  }
  check(format == KvFormat::kF32 || row_bytes() <= kMaxRowBytes,
        "KV row of {} values is too wide for paper storage", dim);
}

void KvCodec::encode(const float* row, uint8_t* out, uint8_t* scales) const {
  if (format_ == KvFormat::kF32) {
    std::memcpy(out, row, static_cast<size_t>(4 * dim_));
  } else if (format_ == KvFormat::kFp8Rope) {
    const int64_t nope = dim_ - rope_dim_, nb = blocks(nope, kFp8ScaleBlock);
    std::fill(scales, scales + scale_bytes_, uint8_t{0});
    for (int64_t b = 0; b < nb; ++b) {
      const int64_t start = b * kFp8ScaleBlock, n = std::min(kFp8ScaleBlock, nope - start);
      scales[b] = quantize_block(row + start, n, kFp8E4M3Max, 1e-4f,
                                 [&](int64_t i, float v) { out[start + i] = f32_to_fp8_e4m3(v); });
    }
    uint8_t* rope = out + nope;
    for (int64_t i = 0; i < rope_dim_; ++i) {
      const uint16_t bits = f32_to_bf16(row[nope + i]);
      std::memcpy(rope + 2 * i, &bits, 2);
    }
  } else {
    const int64_t nb = blocks(dim_, kFp4ScaleBlock);
    std::fill(out, out + data_bytes_, uint8_t{0});
    std::fill(scales, scales + scale_bytes_, uint8_t{0});
    for (int64_t b = 0; b < nb; ++b) {
      const int64_t start = b * kFp4ScaleBlock, n = std::min(kFp4ScaleBlock, dim_ - start);
      scales[b] = quantize_block(row + start, n, kFp4E2M1Max, kFp4E2M1Max * std::ldexp(1.0f, -126),
                                 [&](int64_t i, float v) {
                                   const int64_t k = start + i;
                                   out[k / 2] |= static_cast<uint8_t>(f32_to_fp4_e2m1(v) << (4 * (k % 2)));
                                 });
    }
  }
}

namespace {

// Code → value tables, so a decode is a load and a multiply per element (attention reads stored rows on every
// step). Exactly the values of the scalar conversions: the scales are powers of two.
const float* fp8_values() {
  static const auto table = [] {
    std::array<float, 256> t{};
    for (int c = 0; c < 256; ++c) t[static_cast<size_t>(c)] = fp8_e4m3_to_f32(static_cast<uint8_t>(c));
    return t;
  }();
  return table.data();
}

const float* fp4_pair_values() {  // [byte][2]: the low nibble's value, then the high one's
  static const auto table = [] {
    std::array<float, 512> t{};
    for (int b = 0; b < 256; ++b) {
      t[static_cast<size_t>(2 * b)] = fp4_e2m1_to_f32(static_cast<uint8_t>(b & 15));
      t[static_cast<size_t>(2 * b + 1)] = fp4_e2m1_to_f32(static_cast<uint8_t>(b >> 4));
    }
    return t;
  }();
  return table.data();
}

// Eight e4m3 codes × scale: the exponent and mantissa bits moved into an fp32's place and rescaled by 2^120
// (subnormals too, exactly), the sign put back, the NaN codes S.1111.111 as fp8_e4m3_to_f32 gives them.
// Bit for bit the values of the table above times the scale.
__m256 fp8x8_to_f32(const uint8_t* codes, __m256 scale) {
  const __m256i b = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(codes)));
  const __m256i magnitude = _mm256_and_si256(b, _mm256_set1_epi32(0x7f));
  const __m256 sign = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_and_si256(b, _mm256_set1_epi32(0x80)), 24));
  __m256 v = _mm256_mul_ps(_mm256_castsi256_ps(_mm256_slli_epi32(magnitude, 20)), _mm256_set1_ps(0x1p120f));
  v = _mm256_or_ps(v, sign);
  const __m256 nan = _mm256_or_ps(sign, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fc00000)));
  v = _mm256_blendv_ps(v, nan, _mm256_castsi256_ps(_mm256_cmpeq_epi32(magnitude, _mm256_set1_epi32(0x7f))));
  return _mm256_mul_ps(v, scale);
}

// Eight e2m1 values from four bytes (low nibble first) times a power-of-two scale: the 16 values looked up
// in registers (two 8-entry permutes, picked by the code's bit 3). Bit for bit fp4_e2m1_to_f32 · scale.
__m256 fp4x8_to_f32(const uint8_t* bytes, __m256 scale) {
  static const __m256 low = _mm256_setr_ps(fp4_e2m1_to_f32(0), fp4_e2m1_to_f32(1), fp4_e2m1_to_f32(2),
                                           fp4_e2m1_to_f32(3), fp4_e2m1_to_f32(4), fp4_e2m1_to_f32(5),
                                           fp4_e2m1_to_f32(6), fp4_e2m1_to_f32(7));
  static const __m256 high = _mm256_setr_ps(fp4_e2m1_to_f32(8), fp4_e2m1_to_f32(9), fp4_e2m1_to_f32(10),
                                            fp4_e2m1_to_f32(11), fp4_e2m1_to_f32(12), fp4_e2m1_to_f32(13),
                                            fp4_e2m1_to_f32(14), fp4_e2m1_to_f32(15));
  int32_t four;
  std::memcpy(&four, bytes, 4);
  const __m128i x = _mm_cvtsi32_si128(four);
  const __m256i doubled = _mm256_cvtepu8_epi32(_mm_unpacklo_epi8(x, x));  // b0 b0 b1 b1 b2 b2 b3 b3
  const __m256i code = _mm256_and_si256(_mm256_srlv_epi32(doubled, _mm256_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4)),
                                        _mm256_set1_epi32(15));
  const __m256 v = _mm256_blendv_ps(_mm256_permutevar8x32_ps(low, code), _mm256_permutevar8x32_ps(high, code),
                                    _mm256_castsi256_ps(_mm256_slli_epi32(code, 28)));
  return _mm256_mul_ps(v, scale);
}

}  // namespace

void KvCodec::decode(const uint8_t* in, const uint8_t* scales, float* row) const {
  if (format_ == KvFormat::kF32) {
    std::memcpy(row, in, static_cast<size_t>(4 * dim_));
  } else if (format_ == KvFormat::kFp8Rope) {
    const float* values = fp8_values();
    const int64_t nope = dim_ - rope_dim_;
    for (int64_t b = 0; b < nope; b += kFp8ScaleBlock) {
      const float scale = ue8m0_to_f32(scales[b / kFp8ScaleBlock]);
      const int64_t end = std::min(nope, b + kFp8ScaleBlock);
      int64_t i = b;
      for (; i + 8 <= end; i += 8) _mm256_storeu_ps(row + i, fp8x8_to_f32(in + i, _mm256_set1_ps(scale)));
      for (; i < end; ++i) row[i] = values[in[i]] * scale;
    }
    const uint8_t* rope = in + nope;
    int64_t i = 0;
    for (; i + 8 <= rope_dim_; i += 8) {  // bf16 is the top half of an fp32
      const __m256i bits = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rope + 2 * i)));
      _mm256_storeu_ps(row + nope + i, _mm256_castsi256_ps(_mm256_slli_epi32(bits, 16)));
    }
    for (; i < rope_dim_; ++i) {
      uint16_t bits;
      std::memcpy(&bits, rope + 2 * i, 2);
      const uint32_t wide = uint32_t{bits} << 16;
      std::memcpy(row + nope + i, &wide, 4);
    }
  } else {
    const float* pairs = fp4_pair_values();
    for (int64_t b = 0; b < dim_; b += kFp4ScaleBlock) {
      const float scale = ue8m0_to_f32(scales[b / kFp4ScaleBlock]);
      const int64_t end = std::min(dim_, b + kFp4ScaleBlock);
      int64_t k = b;  // blocks hold an even count but a partial last block, so pairs first, then a lone low nibble
      for (; k + 8 <= end; k += 8) _mm256_storeu_ps(row + k, fp4x8_to_f32(in + k / 2, _mm256_set1_ps(scale)));
      for (; k + 1 < end; k += 2) {
        const float* v = pairs + 2 * in[k / 2];
        row[k] = v[0] * scale;
        row[k + 1] = v[1] * scale;
      }
      if (k < end) row[k] = pairs[2 * in[k / 2]] * scale;
    }
  }
}

void KvCodec::round_trip(float* row) const {
  if (format_ == KvFormat::kF32) return;
  uint8_t buffer[kMaxRowBytes];
  encode(row, buffer, buffer + data_bytes_);
  decode(buffer, buffer + data_bytes_, row);
}

}  // namespace baleen
