#include "backend/cpu/matmul.h"

#include <algorithm>
#include <vector>

#include "backend/cpu/dot.h"
#include "core/dtype.h"

namespace baleen::cpu {
namespace {

// 2 tokens × 4 weight rows per step: 8 accumulators, 6 loads, within the 16 ymm registers.
void tile_2x4(const float* x0, const float* x1, const float* const w[4], int64_t n, float out0[4],
              float out1[4]) {
  __m256 a[2][4];
  for (auto& r : a)
    for (auto& v : r) v = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 vx0 = _mm256_loadu_ps(x0 + i), vx1 = _mm256_loadu_ps(x1 + i);
    for (int k = 0; k < 4; ++k) {
      const __m256 vw = _mm256_loadu_ps(w[k] + i);
      a[0][k] = _mm256_fmadd_ps(vx0, vw, a[0][k]);
      a[1][k] = _mm256_fmadd_ps(vx1, vw, a[1][k]);
    }
  }
  for (int k = 0; k < 4; ++k) {
    out0[k] = horizontal_sum(a[0][k]);
    out1[k] = horizontal_sum(a[1][k]);
    for (int64_t j = i; j < n; ++j) {
      out0[k] += x0[j] * w[k][j];
      out1[k] += x1[j] * w[k][j];
    }
  }
}

// 1 token × 4 weight rows (decode): four independent dot products share the x loads.
void tile_1x4(const float* x0, const float* const w[4], int64_t n, float out0[4]) {
  __m256 a[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 vx = _mm256_loadu_ps(x0 + i);
    for (int k = 0; k < 4; ++k) a[k] = _mm256_fmadd_ps(vx, _mm256_loadu_ps(w[k] + i), a[k]);
  }
  for (int k = 0; k < 4; ++k) {
    out0[k] = horizontal_sum(a[k]);
    for (int64_t j = i; j < n; ++j) out0[k] += x0[j] * w[k][j];
  }
}

// Output columns [o_begin, o_end) with weight rows from `rows(o, k)` (the pointer to row o + k, k < 4).
template <typename Rows>
void columns(MatrixView<const float> x, MatrixView<float> y, int64_t o_begin, int64_t o_end, Rows&& rows) {
  const int64_t n = x.cols, tokens = x.rows;
  int64_t o = o_begin;
  for (; o + 4 <= o_end; o += 4) {
    const float* wr[4];
    rows(o, 4, wr);
    int64_t t = 0;
    for (; t + 2 <= tokens; t += 2) {
      float r0[4], r1[4];
      tile_2x4(x.row(t), x.row(t + 1), wr, n, r0, r1);
      for (int k = 0; k < 4; ++k) {
        y(t, o + k) = r0[k];
        y(t + 1, o + k) = r1[k];
      }
    }
    for (; t < tokens; ++t) {
      float r0[4];
      tile_1x4(x.row(t), wr, n, r0);
      for (int k = 0; k < 4; ++k) y(t, o + k) = r0[k];
    }
  }
  if (o == o_end) return;
  // The last 1–3 columns go through the same tile (missing rows repeat the last one, their sums are
  // dropped), so an output's bits depend on its x and w rows only, never on the column's position.
  const int64_t left = o_end - o;
  const float* given[4];
  rows(o, left, given);
  const float* wr[4];
  for (int64_t k = 0; k < 4; ++k) wr[k] = given[std::min(k, left - 1)];
  for (int64_t t = 0; t < tokens; ++t) {
    float r0[4];
    tile_1x4(x.row(t), wr, n, r0);
    for (int64_t k = 0; k < left; ++k) y(t, o + k) = r0[k];
  }
}

float scale_at(const WeightView& w, int64_t r, int64_t c) {
  const int64_t i = (r / w.block_rows) * w.scale_cols() + c / w.block_cols;
  if (w.scale_dtype == DType::kF32) return static_cast<const float*>(w.scales)[i];
  return ue8m0_to_f32(static_cast<const uint8_t*>(w.scales)[i]);
}

}  // namespace

void matmul_columns(MatrixView<const float> x, MatrixView<const float> w, MatrixView<float> y,
                    int64_t o_begin, int64_t o_end) {
  columns(x, y, o_begin, o_end, [&](int64_t o, int64_t count, const float** out) {
    for (int64_t k = 0; k < count; ++k) out[k] = w.row(o + k);
  });
}

bool matmul_supports(const WeightView& w) {
  switch (w.dtype) {
    case DType::kF32:
    case DType::kBF16:
      return !w.quantized();
    case DType::kF8E4M3:
    case DType::kF4E2M1x2:
      return w.quantized() && (w.scale_dtype == DType::kUE8M0 || w.scale_dtype == DType::kF32) &&
             w.block_rows > 0 && w.block_cols > 0;
    default:
      return false;
  }
}

void weight_row(const WeightView& w, int64_t r, float* out) {
  const uint8_t* row = static_cast<const uint8_t*>(w.data) + r * w.row_bytes();
  switch (w.dtype) {
    case DType::kF32:
      std::copy(reinterpret_cast<const float*>(row), reinterpret_cast<const float*>(row) + w.cols, out);
      return;
    case DType::kBF16:
      for (int64_t c = 0; c < w.cols; ++c) out[c] = bf16_to_f32(static_cast<uint16_t>(row[2 * c] | row[2 * c + 1] << 8));
      return;
    case DType::kF8E4M3:
      for (int64_t c = 0; c < w.cols; ++c) out[c] = fp8_e4m3_to_f32(row[c]) * scale_at(w, r, c);
      return;
    case DType::kF4E2M1x2:
      for (int64_t c = 0; c < w.cols; ++c) {
        const uint8_t byte = row[c / 2];
        out[c] = fp4_e2m1_to_f32(c % 2 == 0 ? byte & 0xF : byte >> 4) * scale_at(w, r, c);
      }
      return;
    default:
      return;
  }
}

void matmul_columns(MatrixView<const float> x, const WeightView& w, MatrixView<float> y, int64_t o_begin,
                    int64_t o_end, int64_t w_row) {
  if (w.dtype == DType::kF32) {
    const MatrixView<const float> f = w.f32();
    return matmul_columns(x, f.rows_slice(w_row, f.rows - w_row), y, o_begin, o_end);
  }
  // Four rows decoded at a time into a scratch the tiles read from cache.
  thread_local std::vector<float> decoded;
  if (static_cast<int64_t>(decoded.size()) < 4 * w.cols) decoded.resize(static_cast<size_t>(4 * w.cols));
  columns(x, y, o_begin, o_end, [&](int64_t o, int64_t count, const float** out) {
    for (int64_t k = 0; k < count; ++k) {
      weight_row(w, w_row + o + k, decoded.data() + k * w.cols);
      out[k] = decoded.data() + k * w.cols;
    }
  });
}

void matmul_reference(MatrixView<const float> x, MatrixView<const float> w, MatrixView<float> y) {
  for (int64_t t = 0; t < x.rows; ++t) {
    for (int64_t o = 0; o < w.rows; ++o) {
      double s = 0;
      for (int64_t i = 0; i < x.cols; ++i) s += double(x(t, i)) * double(w(o, i));
      y(t, o) = static_cast<float>(s);
    }
  }
}

}  // namespace baleen::cpu
