// How one KV row is stored in a session (spec "Norms and precision"), as DeepSeek's own V4 kernels store it
// (FlashMLA's MODEL1 FP8 layout). A row has a data part and a scale part; a page of P rows holds the P data
// parts, then the P scale parts (so every data part of a 576-byte V4 row starts 16-byte aligned).
//   kF32:     data = dim fp32 values; no scales. Exact.
//   kFp8Rope: data = the leading dim−rope dims as FP8 e4m3, then the trailing rope dims as BF16;
//             scales = one ue8m0 per 64 non-RoPE values, zero-padded to a multiple of 4 bytes.
//             V4 (dim 512, rope 64): 448 + 128 data bytes + 7 scales + 1 pad = the 584-byte row.
//   kFp4:     data = FP4 e2m1, two per byte (element 2i in the low nibble); scales = one ue8m0 per 32
//             values, zero-padded to a multiple of 4 (the indexer's keys, already Hadamard-rotated).
// Scales are the power of two at or above amax/max-code, as the reference's act_quant / fp4_act_quant with
// ue8m0 choose them; values round to nearest even. A partial last block is allowed. Pure; thread-safe.
#pragma once

#include <cstdint>

namespace baleen {

enum class KvFormat { kF32, kFp8Rope, kFp4 };

class KvCodec {
 public:
  KvCodec() = default;
  KvCodec(KvFormat format, int64_t dim, int64_t rope_dim);

  KvFormat format() const { return format_; }
  int64_t dim() const { return dim_; }
  int64_t rope_dim() const { return rope_dim_; }
  int64_t data_bytes() const { return data_bytes_; }
  int64_t scale_bytes() const { return scale_bytes_; }
  int64_t row_bytes() const { return data_bytes_ + scale_bytes_; }
  void encode(const float* row, uint8_t* data, uint8_t* scales) const;
  void decode(const uint8_t* data, const uint8_t* scales, float* row) const;
  // row ← decode(encode(row)): what attention sees of a stored row.
  void round_trip(float* row) const;

 private:
  KvFormat format_ = KvFormat::kF32;
  int64_t dim_ = 0, rope_dim_ = 0, data_bytes_ = 0, scale_bytes_ = 0;
};

// Where row `slot` of a page of `rows` rows keeps its two parts.
struct KvPageLayout {
  KvCodec codec;
  int64_t rows = 0;

  int64_t page_bytes() const { return rows * codec.row_bytes(); }
  uint8_t* data(uint8_t* page, int64_t slot) const { return page + slot * codec.data_bytes(); }
  const uint8_t* data(const uint8_t* page, int64_t slot) const { return page + slot * codec.data_bytes(); }
  uint8_t* scales(uint8_t* page, int64_t slot) const {
    return page + rows * codec.data_bytes() + slot * codec.scale_bytes();
  }
  const uint8_t* scales(const uint8_t* page, int64_t slot) const {
    return page + rows * codec.data_bytes() + slot * codec.scale_bytes();
  }
};

inline constexpr int64_t kFp8ScaleBlock = 64;
inline constexpr int64_t kFp4ScaleBlock = 32;

}  // namespace baleen
