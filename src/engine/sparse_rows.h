// A linear weight whose rows are mostly exact zeros, multiplied through its non-zero rows only. A small
// model trained on a slice of a large vocabulary (baleen-nano: 2,230 of 129,280 head rows) keeps the
// other rows at zero, and the dense head product would spend nearly all of its time on them.
// Exact: a zero row's output is written as +0.0f, which is what the dense product gives bit for bit when
// the input row is finite (every product x·(±0) is ±0, and fp32 sums of signed zeros started from +0 stay
// +0); an input row with an inf or NaN goes through the dense product. The kept rows give the dense bits
// because the backend's matmul computes each output from its x and w rows alone (cpu/matmul.h).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "backend/backend.h"
#include "core/tensor.h"

namespace baleen {

class SparseRows {
 public:
  // The packed view of `weight` [rows, cols] (borrowed: it must outlive the view), or nullopt when fewer
  // than min_zero_fraction of its rows are all ±0 (a dense checkpoint costs one scan that stops at the
  // first non-zero of each row).
  static std::optional<SparseRows> detect(const Tensor& weight, double min_zero_fraction);

  int64_t rows() const { return dense_.rows; }
  int64_t kept() const { return static_cast<int64_t>(kept_.size()); }

  // y[T, rows] = x[T, cols]·Wᵀ, bit-identical to backend.matmul(x, W, y). scratch holds [T, kept()].
  void matmul(Backend& backend, MatrixView<const float> x, MatrixView<float> scratch,
              MatrixView<float> y) const;

 private:
  SparseRows(WeightView dense, std::vector<int32_t> kept, Tensor packed)
      : dense_(dense), kept_(std::move(kept)), packed_(std::move(packed)) {}

  WeightView dense_;
  std::vector<int32_t> kept_;  // indices of the non-zero rows, ascending
  Tensor packed_;              // [kept, cols]: those rows
};

}  // namespace baleen
