#include "engine/kept_rows.h"

#include <cstring>

namespace baleen {
namespace {

// A row of fp32 or bf16 values is zero when every value's bits without the sign are zero.
bool zero_row(const uint8_t* row, int64_t cols, DType dtype) {
  if (dtype == DType::kF32) {
    for (int64_t c = 0; c < cols; ++c) {
      uint32_t bits;
      std::memcpy(&bits, row + 4 * c, 4);
      if (bits & 0x7fffffffu) return false;
    }
    return true;
  }
  for (int64_t c = 0; c < cols; ++c) {
    uint16_t bits;
    std::memcpy(&bits, row + 2 * c, 2);
    if (bits & 0x7fffu) return false;
  }
  return true;
}

}  // namespace

std::optional<KeptRows> find_kept_rows(const WeightView& w, double min_zero_fraction) {
  if (w.quantized() || (w.dtype != DType::kF32 && w.dtype != DType::kBF16) || w.rows == 0) return std::nullopt;
  const auto* base = static_cast<const uint8_t*>(w.data);
  const int64_t rb = w.row_bytes();
  KeptRows k;
  for (int64_t r = 0; r < w.rows; ++r) {
    if (!zero_row(base + r * rb, w.cols, w.dtype)) k.rows.push_back(static_cast<int32_t>(r));
  }
  const auto zero = static_cast<double>(w.rows - k.count());
  if (zero < min_zero_fraction * static_cast<double>(w.rows)) return std::nullopt;
  k.packed.resize(static_cast<size_t>(k.count() * rb));
  for (int64_t i = 0; i < k.count(); ++i) std::memcpy(k.packed.data() + i * rb, base + k.rows[static_cast<size_t>(i)] * rb, static_cast<size_t>(rb));
  return k;
}

}  // namespace baleen
