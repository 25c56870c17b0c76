// A linear weight whose rows are mostly exact zeros, multiplied through its non-zero rows only
// (Backend::matmul_kept_rows). A small model trained on a slice of a large vocabulary (baleen-nano: 2,230
// of 129,280 head rows) keeps the other rows at zero, and the dense head product would spend nearly all of
// its time on them. Exact: a zero row's output is +0.0f, what the dense product gives bit for bit when the
// input row is finite (every x·(±0) is ±0, and fp32 sums of signed zeros started from +0 stay +0); the
// backend computes a non-finite input row densely; the kept rows give the dense bits because a backend's
// matmul computes each output from its x and w rows alone (cpu/matmul.h).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/weight_view.h"

namespace baleen {

struct KeptRows {
  std::vector<int32_t> rows;   // indices of the non-zero rows, ascending
  std::vector<uint8_t> packed;  // those rows, in the weight's dtype
  int64_t count() const { return static_cast<int64_t>(rows.size()); }
};

// The non-zero rows of an unquantized host weight (kF32 or kBF16; ±0 counts as zero, NaN as non-zero), or
// nullopt when fewer than min_zero_fraction of its rows are zero or the weight is quantized.
std::optional<KeptRows> find_kept_rows(const WeightView& weight, double min_zero_fraction);

}  // namespace baleen
