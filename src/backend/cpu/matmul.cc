#include "backend/cpu/matmul.h"

#include <algorithm>

#include "backend/cpu/dot.h"

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

}  // namespace

void matmul_columns(MatrixView<const float> x, MatrixView<const float> w, MatrixView<float> y,
                    int64_t o_begin, int64_t o_end) {
  const int64_t n = x.cols, tokens = x.rows;
  int64_t o = o_begin;
  for (; o + 4 <= o_end; o += 4) {
    const float* wr[4] = {w.row(o), w.row(o + 1), w.row(o + 2), w.row(o + 3)};
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
  const float* wr[4];
  for (int64_t k = 0; k < 4; ++k) wr[k] = w.row(o + std::min(k, left - 1));
  for (int64_t t = 0; t < tokens; ++t) {
    float r0[4];
    tile_1x4(x.row(t), wr, n, r0);
    for (int64_t k = 0; k < left; ++k) y(t, o + k) = r0[k];
  }
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
