// A weight's rows read as fp32 lanes in registers, one reader per stored dtype (backend.h WeightView).
// Every value a reader yields is bit-for-bit the fp32 value Checkpoint::load_f32 gives for it (code ×
// scale with one fp32 rounding, model/checkpoint.h dequantize_fp8 / dequantize_fp4), for finite scales
// and non-NaN codes, with the MXCSR defaults (no flush-to-zero, no denormals-are-zero). Inline, no
// allocation; the kernel in matmul.cc calls them.
//
// A reader's row cursor offers: segment(k) before the columns [k·B, (k+1)·B) of B = segment_cols()
// (one scale block; 0: the row is one segment), load(i) for the 8 columns i..i+7 and load2(i, v) for
// the 16 columns i..i+15 inside the current segment, and at(j) for one column anywhere (the scalar
// tail). address(r, i) is where element (r, i)
// is stored (for prefetching; any r, even past the last row), kLineCols the columns a 64-byte line holds
// and kDecodes whether a load costs more than a plain load (the kernel then shares it among more tokens).
#pragma once

#include <immintrin.h>

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>

#include "backend/backend.h"
#include "core/dtype.h"

namespace baleen::cpu {

// ue8m0 byte e → 2^(e−127) (0xFF: NaN), as the checkpoint reads it: one load instead of branches.
inline constexpr std::array<float, 256> kUe8m0 = [] {
  std::array<float, 256> t{};
  for (uint32_t e = 1; e < 255; ++e) t[e] = std::bit_cast<float>(e << 23);
  t[0] = 0x1p-127f;  // subnormal
  t[255] = std::numeric_limits<float>::quiet_NaN();
  return t;
}();

// A scale element as the checkpoint's dequantizer reads it (ue8m0, f32, bf16).
template <DType kScale>
float scale_value(const void* scales, int64_t index) {
  const auto* bytes = static_cast<const uint8_t*>(scales);
  if constexpr (kScale == DType::kUE8M0) {
    return kUe8m0[bytes[index]];
  } else if constexpr (kScale == DType::kBF16) {
    uint16_t v;
    std::memcpy(&v, bytes + 2 * index, 2);
    return bf16_to_f32(v);
  } else {
    float v;
    std::memcpy(&v, bytes + 4 * index, 4);
    return v;
  }
}

inline float scale_value(const void* scales, DType dtype, int64_t index) {
  switch (dtype) {
    case DType::kUE8M0:
      return scale_value<DType::kUE8M0>(scales, index);
    case DType::kBF16:
      return scale_value<DType::kBF16>(scales, index);
    default:
      return scale_value<DType::kF32>(scales, index);
  }
}

// Dense fp32 rows (any row stride).
struct F32Rows {
  MatrixView<const float> w;

  struct Row {
    const float* p;
    void segment(int64_t) {}
    __m256 load(int64_t i) const { return _mm256_loadu_ps(p + i); }
    void load2(int64_t i, __m256 (&v)[2]) const { v[0] = load(i), v[1] = load(i + 8); }
    float at(int64_t j) const { return p[j]; }
  };
  Row row(int64_t r) const { return {w.row(r)}; }
  int64_t segment_cols() const { return 0; }
  static constexpr int64_t kLineCols = 16;
  static constexpr bool kDecodes = false;
  uintptr_t address(int64_t r, int64_t i) const {
    return uintptr_t(w.data) + uintptr_t(r * w.stride + i) * 4;
  }
};

// bf16 is the top half of an fp32: widen and shift.
struct Bf16Rows {
  const uint16_t* data;
  int64_t cols;

  struct Row {
    const uint16_t* p;
    void segment(int64_t) {}
    __m256 load(int64_t i) const {
      const __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i)));
      return _mm256_castsi256_ps(_mm256_slli_epi32(h, 16));
    }
    void load2(int64_t i, __m256 (&v)[2]) const { v[0] = load(i), v[1] = load(i + 8); }
    float at(int64_t j) const { return bf16_to_f32(p[j]); }
  };
  Row row(int64_t r) const { return {data + r * cols}; }
  int64_t segment_cols() const { return 0; }
  static constexpr int64_t kLineCols = 32;
  static constexpr bool kDecodes = false;
  uintptr_t address(int64_t r, int64_t i) const { return uintptr_t(data) + uintptr_t(r * cols + i) * 2; }
};

// The scale row and block width shared by the block-scaled readers.
struct BlockScales {
  const void* data;
  DType dtype;
  int64_t row_stride;  // scale elements per scale row
  int64_t block_rows, block_cols;

  const void* row_of(int64_t r) const {
    const int64_t bytes = dtype == DType::kUE8M0 ? 1 : dtype == DType::kBF16 ? 2 : 4;
    return static_cast<const uint8_t*>(data) + (r / block_rows) * row_stride * bytes;
  }
};

// e4m3 → fp32 through fp16: the sign-extended byte shifted left 7 and masked puts the sign at bit 15
// and the 7-bit magnitude at bits 13..7, an fp16 equal to the code × 2^−8 (subnormal codes land on fp16
// subnormals, same spacing), which F16C widens exactly. Going through fp16 rather than placing the bits
// in an fp32 (code × 2^−120) keeps subnormal fp32 operands out of the multiply: each one costs a
// microcode assist (~90 ns measured on this machine's Xeon). One multiply by scale·2^8 then gives
// code × scale with one rounding, as load_f32 does, provided scale·2^8 is exact, i.e. finite (kFused).
// Otherwise (scales ≥ 2^120) the two steps are done apart: × 2^8 (exact) then × scale. NaN codes
// (0x7F, 0xFF) read as ±480, not NaN.
template <bool kFused, DType kScale>
struct Fp8Rows {
  const uint8_t* data;
  int64_t cols;
  BlockScales scales;

  struct Row {
    const uint8_t* p;
    const void* scale_row;
    int64_t block_cols;
    __m256 factor;

    void segment(int64_t k) {
      const float s = scale_value<kScale>(scale_row, k);
      factor = _mm256_set1_ps(kFused ? s * 0x1p8f : s);
    }
    __m256 scaled(__m128i halves) const {
      const __m256 v = _mm256_cvtph_ps(halves);
      if constexpr (kFused) return _mm256_mul_ps(v, factor);
      return _mm256_mul_ps(_mm256_mul_ps(v, _mm256_set1_ps(0x1p8f)), factor);
    }
    __m256 load(int64_t i) const {
      const __m128i b = _mm_cvtepi8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + i)));
      return scaled(_mm_and_si128(_mm_slli_epi16(b, 7), _mm_set1_epi16(int16_t(0xBF80))));
    }
    // 16 codes widened in one ymm (faster here than two 8-code loads; converting the halves from memory
    // instead of a register extract measured slower in this kernel).
    void load2(int64_t i, __m256 (&v)[2]) const {
      const __m256i b = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i)));
      const __m256i h = _mm256_and_si256(_mm256_slli_epi16(b, 7), _mm256_set1_epi16(int16_t(0xBF80)));
      v[0] = scaled(_mm256_castsi256_si128(h));
      v[1] = scaled(_mm256_extracti128_si256(h, 1));
    }
    float at(int64_t j) const {
      return fp8_e4m3_to_f32(p[j]) * scale_value<kScale>(scale_row, j / block_cols);
    }
  };
  Row row(int64_t r) const {
    return {data + r * cols, scales.row_of(r), scales.block_cols, _mm256_setzero_ps()};
  }
  int64_t segment_cols() const { return scales.block_cols; }
  static constexpr int64_t kLineCols = 64;
  static constexpr bool kDecodes = true;
  uintptr_t address(int64_t r, int64_t i) const { return uintptr_t(data) + uintptr_t(r * cols + i); }
};

// The FP4 reader's lookup table for a scale s: entry m holds the bits of kFp4Magnitude[m]·s xor m << 28.
struct alignas(32) Fp4Table {
  float v[8];
};
inline constexpr float kFp4Magnitude[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};

inline constexpr Fp4Table fp4_table(float scale) {
  Fp4Table t{};
  for (uint32_t m = 0; m < 8; ++m) {
    // magnitude × 2^k is exact in double; only an overflow needs saying (a constant expression may not
    // overflow), as the fp32 multiply's infinity.
    const double product = double(kFp4Magnitude[m]) * double(scale);
    const float f = product > double(std::numeric_limits<float>::max())
                        ? std::numeric_limits<float>::infinity()
                        : static_cast<float>(product);
    t.v[m] = std::bit_cast<float>(std::bit_cast<uint32_t>(f) ^ (m << 28));
  }
  return t;
}

// The table of every ue8m0 scale (8 KiB; magnitude × 2^k is exact, so these are load_f32's products).
inline constexpr std::array<Fp4Table, 256> kFp4Tables = [] {
  std::array<Fp4Table, 256> t{};
  for (int e = 0; e < 255; ++e) t[e] = fp4_table(kUe8m0[e]);
  for (uint32_t m = 0; m < 8; ++m) t[255].v[m] = std::bit_cast<float>(0x7FC00000u ^ (m << 28));  // NaN scale
  return t;
}();

// e2m1 pairs (element 2i in the low nibble). Each lane gets its nibble by a variable shift of the
// broadcast 4 bytes; an 8-entry table of magnitude × scale (one rounding each, as load_f32) is looked up
// by the low 3 bits and the nibble's sign bit is flipped in. The table is stored pre-xored with m << 28 so
// that one xor with nibble << 28 sets the sign and restores bits 30..28.
template <DType kScale>
struct Fp4Rows {
  const uint8_t* data;
  int64_t cols;
  BlockScales scales;

  struct Row {
    const uint8_t* p;
    const void* scale_row;
    int64_t block_cols;
    __m256 table;

    void segment(int64_t k) {
      if constexpr (kScale == DType::kUE8M0) {
        table = _mm256_load_ps(kFp4Tables[static_cast<const uint8_t*>(scale_row)[k]].v);
      } else {
        const __m256 magnitudes = _mm256_load_ps(fp4_table(1.0f).v);  // pre-xored, scale 1
        const __m256i high =
            _mm256_setr_epi32(0, 1 << 28, 2 << 28, 3 << 28, 4 << 28, 5 << 28, 6 << 28, 7 << 28);
        const __m256 plain = _mm256_xor_ps(magnitudes, _mm256_castsi256_ps(high));
        const __m256 scaled = _mm256_mul_ps(plain, _mm256_set1_ps(scale_value<kScale>(scale_row, k)));
        table = _mm256_xor_ps(scaled, _mm256_castsi256_ps(high));
      }
    }
    __m256 load(int64_t i) const {
      uint32_t word;
      std::memcpy(&word, p + i / 2, 4);
      const __m256i nibbles = _mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(word)),
                                                _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28));
      const __m256 v = _mm256_permutevar8x32_ps(table, nibbles);
      return _mm256_xor_ps(v, _mm256_castsi256_ps(_mm256_slli_epi32(nibbles, 28)));
    }
    void load2(int64_t i, __m256 (&v)[2]) const { v[0] = load(i), v[1] = load(i + 8); }
    float at(int64_t j) const {
      const uint8_t byte = p[j / 2];
      return fp4_e2m1_to_f32(j % 2 == 0 ? byte & 0xF : byte >> 4) *
             scale_value<kScale>(scale_row, j / block_cols);
    }
  };
  Row row(int64_t r) const {
    return {data + r * (cols / 2), scales.row_of(r), scales.block_cols, _mm256_setzero_ps()};
  }
  int64_t segment_cols() const { return scales.block_cols; }
  static constexpr int64_t kLineCols = 128;
  static constexpr bool kDecodes = true;
  uintptr_t address(int64_t r, int64_t i) const { return uintptr_t(data) + uintptr_t(r * cols + i) / 2; }
};

// Any reader whose scale blocks do not fall on 8-column boundaries: 8 scalar reads per load (slow, exact).
template <class Rows>
struct ScalarRows {
  Rows rows;

  struct Row {
    typename Rows::Row r;
    void segment(int64_t) {}
    __m256 load(int64_t i) const {
      return _mm256_setr_ps(r.at(i), r.at(i + 1), r.at(i + 2), r.at(i + 3), r.at(i + 4), r.at(i + 5),
                            r.at(i + 6), r.at(i + 7));
    }
    void load2(int64_t i, __m256 (&v)[2]) const { v[0] = load(i), v[1] = load(i + 8); }
    float at(int64_t j) const { return r.at(j); }
  };
  Row row(int64_t r) const { return {rows.row(r)}; }
  int64_t segment_cols() const { return 0; }
  static constexpr int64_t kLineCols = Rows::kLineCols;
  static constexpr bool kDecodes = true;
  uintptr_t address(int64_t r, int64_t i) const { return rows.address(r, i); }
};

}  // namespace baleen::cpu
