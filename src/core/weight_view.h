// A linear layer's weight [rows = out, cols = in] (y = x·Wᵀ) in its stored dtype: kF32, kBF16, kF8E4M3
// with block scales (DeepSeek's 128×128) or kF4E2M1x2 with block scales (1×32; two values a byte, element
// 2i in the low nibble). Rows are dense: a row holds cols·dtype_bits/8 bytes. `scales` is
// [ceil(rows/block_rows), ceil(cols/block_cols)] row-major in scale_dtype (kUE8M0 or kF32); a weight
// value is its element × its block's scale. A view never owns its memory.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "core/error.h"
#include "core/tensor.h"

namespace baleen {

struct WeightView {
  DType dtype = DType::kF32;
  const void* data = nullptr;
  int64_t rows = 0;              // out features
  int64_t cols = 0;              // in features
  const void* scales = nullptr;  // null for kF32 / kBF16
  DType scale_dtype = DType::kUE8M0;
  int64_t block_rows = 0, block_cols = 0;

  bool quantized() const { return scales != nullptr; }
  MatrixView<const float> f32() const { return {static_cast<const float*>(data), rows, cols}; }
  int64_t row_bytes() const { return cols * dtype_bits(dtype) / 8; }
  int64_t bytes() const { return rows * row_bytes(); }
  int64_t scale_rows() const { return quantized() ? (rows + block_rows - 1) / block_rows : 0; }
  int64_t scale_cols() const { return quantized() ? (cols + block_cols - 1) / block_cols : 0; }
  int64_t scale_bytes() const { return scale_rows() * scale_cols() * dtype_bits(scale_dtype) / 8; }

  // Rows [begin, begin + count); begin must sit on a scale block boundary.
  WeightView rows_slice(int64_t begin, int64_t count) const {
    check(begin >= 0 && count >= 0 && begin + count <= rows, "weight rows [{}, {}) outside [0, {})", begin,
          begin + count, rows);
    WeightView v = *this;
    v.data = static_cast<const uint8_t*>(data) + begin * row_bytes();
    v.rows = count;
    if (quantized()) {
      check(begin % block_rows == 0, "weight rows from {}: not on a {}-row scale block boundary", begin,
            block_rows);
      v.scales = static_cast<const uint8_t*>(scales) +
                 (begin / block_rows) * scale_cols() * dtype_bits(scale_dtype) / 8;
    }
    return v;
  }
};

// Whether `w` is one of the stored formats above, with its scales described: the weights the backends'
// general matmuls read.
inline bool stored_format(const WeightView& w) {
  switch (w.dtype) {
    case DType::kF32:
    case DType::kBF16:
      return !w.quantized();
    case DType::kF8E4M3:
    case DType::kF4E2M1x2:
      return w.quantized() && w.block_rows > 0 && w.block_cols > 0 &&
             (w.scale_dtype == DType::kUE8M0 || w.scale_dtype == DType::kF32 || w.scale_dtype == DType::kBF16);
    default:
      return false;
  }
}

inline WeightView weight_view(const Tensor& t) {
  const int64_t cols = t.shape().empty() ? 1 : t.shape().back();
  return {DType::kF32, t.data(), cols == 0 ? 0 : t.size() / cols, cols};
}

}  // namespace baleen
