#include "model/kv_codec.h"

#include <algorithm>
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

void KvCodec::decode(const uint8_t* in, const uint8_t* scales, float* row) const {
  if (format_ == KvFormat::kF32) {
    std::memcpy(row, in, static_cast<size_t>(4 * dim_));
  } else if (format_ == KvFormat::kFp8Rope) {
    const int64_t nope = dim_ - rope_dim_;
    for (int64_t i = 0; i < nope; ++i)
      row[i] = fp8_e4m3_to_f32(in[i]) * ue8m0_to_f32(scales[i / kFp8ScaleBlock]);
    const uint8_t* rope = in + nope;
    for (int64_t i = 0; i < rope_dim_; ++i) {
      uint16_t bits;
      std::memcpy(&bits, rope + 2 * i, 2);
      row[nope + i] = bf16_to_f32(bits);
    }
  } else {
    for (int64_t k = 0; k < dim_; ++k) {
      const uint8_t nibble = static_cast<uint8_t>(in[k / 2] >> (4 * (k % 2)));
      row[k] = fp4_e2m1_to_f32(nibble) * ue8m0_to_f32(scales[k / kFp4ScaleBlock]);
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
