#include "engine/sparse_rows.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace baleen {

std::optional<SparseRows> SparseRows::detect(const Tensor& weight, double min_zero_fraction) {
  const WeightView dense = weight_view(weight);
  const MatrixView<const float> w = dense.f32();
  std::vector<int32_t> kept;
  for (int64_t r = 0; r < w.rows; ++r) {
    const float* row = w.row(r);
    if (std::any_of(row, row + w.cols, [](float v) { return v != 0.0f; })) {  // NaN counts as non-zero
      kept.push_back(static_cast<int32_t>(r));
    }
  }
  const auto zero = static_cast<double>(w.rows - static_cast<int64_t>(kept.size()));
  if (w.rows == 0 || zero < min_zero_fraction * static_cast<double>(w.rows)) return std::nullopt;
  Tensor packed({static_cast<int64_t>(kept.size()), w.cols});
  for (size_t k = 0; k < kept.size(); ++k) {
    std::copy(w.row(kept[k]), w.row(kept[k]) + w.cols, packed.data() + static_cast<int64_t>(k) * w.cols);
  }
  return SparseRows(dense, std::move(kept), std::move(packed));
}

void SparseRows::matmul(Backend& backend, MatrixView<const float> x, MatrixView<float> scratch,
                        MatrixView<float> y) const {
  check(x.cols == dense_.cols && y.cols == dense_.rows && x.rows == y.rows && scratch.cols == kept() &&
            (kept() == 0 || scratch.rows == x.rows),
        "sparse-row matmul: shapes x [{}, {}], y [{}, {}], scratch [{}, {}] do not fit W [{}, {}] ({} kept)",
        x.rows, x.cols, y.rows, y.cols, scratch.rows, scratch.cols, dense_.rows, dense_.cols, kept());
  if (kept() > 0) backend.matmul(x, weight_view(packed_), scratch);
  for (int64_t t = 0; t < x.rows; ++t) {
    const float* xr = x.row(t);
    if (!std::all_of(xr, xr + x.cols, [](float v) { return std::isfinite(v); })) {
      backend.matmul(x.rows_slice(t, 1), dense_, y.rows_slice(t, 1));  // inf·0 is NaN: keep the dense bits
      continue;
    }
    float* yr = y.row(t);
    std::fill(yr, yr + y.cols, 0.0f);
    for (int64_t k = 0; k < kept(); ++k) yr[kept_[static_cast<size_t>(k)]] = scratch(t, k);
  }
}

}  // namespace baleen
