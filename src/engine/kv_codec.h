// How one KV row is stored in a session (spec "Norms and precision"). kF32: exact. kFp8Rope (the paper's
// attention entries): the leading dim−rope dims as FP8 e4m3 with one ue8m0 scale per 64 values, the
// trailing rope dims as BF16. kFp4 (the paper's indexer keys, already Hadamard-rotated): FP4 e2m1, two per
// byte (element 2i in the low nibble), one ue8m0 scale per 32 values. Scales are the power of two at or
// above amax/max-code, as the reference's act_quant / fp4_act_quant with ue8m0 choose them; values round
// to nearest even. A partial last block is allowed. Pure functions; thread-safe.
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
  int64_t row_bytes() const { return row_bytes_; }
  void encode(const float* row, uint8_t* out) const;
  void decode(const uint8_t* in, float* row) const;
  // row ← decode(encode(row)): what attention sees of a stored row.
  void round_trip(float* row) const;

 private:
  KvFormat format_ = KvFormat::kF32;
  int64_t dim_ = 0, rope_dim_ = 0, row_bytes_ = 0;
};

inline constexpr int64_t kFp8ScaleBlock = 64;
inline constexpr int64_t kFp4ScaleBlock = 32;

}  // namespace baleen
