#include "backend/cpu/matmul.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "backend/cpu/dot.h"
#include "backend/cpu/weight_rows.h"

namespace baleen::cpu {
namespace {

// kT tokens × kR weight rows per step (kT·kR accumulators, kR decoded chunks, within the 16 ymm
// registers). Segments are the weight's scale blocks: the readers set their scale there, off the hot loop.
template <int kT, int kR, class Rows>
void tile(const Rows& rows, const float* const (&x)[kT], const int64_t (&r)[kR], int64_t n,
          float (&out)[kT][kR]) {
  typename Rows::Row w[kR];
  for (int k = 0; k < kR; ++k) w[k] = rows.row(r[k]);
  __m256 a[kT][kR];
  for (auto& row : a)
    for (auto& v : row) v = _mm256_setzero_ps();
  const int64_t body = n / 8 * 8;
  const int64_t width = rows.segment_cols() > 0 ? rows.segment_cols() : std::max<int64_t>(body, 1);
  for (int64_t s0 = 0, segment = 0; s0 < body; s0 += width, ++segment) {
    for (auto& row : w) row.segment(segment);
    const int64_t s1 = std::min(body, s0 + width);
    for (int64_t i = s0; i < s1; i += 8) {
      __m256 vw[kR];
      for (int k = 0; k < kR; ++k) vw[k] = w[k].load(i);
      for (int t = 0; t < kT; ++t) {
        const __m256 vx = _mm256_loadu_ps(x[t] + i);
        for (int k = 0; k < kR; ++k) a[t][k] = _mm256_fmadd_ps(vx, vw[k], a[t][k]);
      }
    }
  }
  for (int t = 0; t < kT; ++t) {
    for (int k = 0; k < kR; ++k) {
      out[t][k] = horizontal_sum(a[t][k]);
      for (int64_t j = body; j < n; ++j) out[t][k] += x[t][j] * w[k].at(j);
    }
  }
}

// Output columns in tiles of 4 weight rows; the last 1–3 columns repeat the range's last row in the
// missing slots (their sums are dropped). Tokens go 2 at a time, an odd last one alone.
template <class Rows>
void columns(MatrixView<const float> x, const Rows& rows, MatrixView<float> y, int64_t o_begin,
             int64_t o_end) {
  const int64_t n = x.cols, tokens = x.rows;
  for (int64_t o = o_begin; o < o_end; o += 4) {
    const int64_t left = std::min<int64_t>(4, o_end - o);
    const int64_t r[4] = {o, o + std::min<int64_t>(1, left - 1), o + std::min<int64_t>(2, left - 1),
                          o + left - 1};
    int64_t t = 0;
    for (; t + 2 <= tokens; t += 2) {
      const float* const xs[2] = {x.row(t), x.row(t + 1)};
      float out[2][4];
      tile<2, 4>(rows, xs, r, n, out);
      for (int64_t k = 0; k < left; ++k) {
        y(t, o + k) = out[0][k];
        y(t + 1, o + k) = out[1][k];
      }
    }
    if (t < tokens) {
      const float* const xs[1] = {x.row(t)};
      float out[1][4];
      tile<1, 4>(rows, xs, r, n, out);
      for (int64_t k = 0; k < left; ++k) y(t, o + k) = out[0][k];
    }
  }
}

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

BlockScales block_scales(const WeightView& w) {
  return {w.scales, w.scale_dtype, ceil_div(w.cols, w.block_cols), w.block_rows, w.block_cols};
}

// Whether scale·2^8 is finite (so exact) for every block that rows [o_begin, o_end) use.
bool fused_factor_exact(const WeightView& w, int64_t o_begin, int64_t o_end) {
  const BlockScales s = block_scales(w);
  for (int64_t br = o_begin / w.block_rows; br <= (o_end - 1) / w.block_rows; ++br) {
    for (int64_t bc = 0; bc < s.row_stride; ++bc) {
      if (!std::isfinite(scale_value(w.scales, w.scale_dtype, br * s.row_stride + bc) * 0x1p8f)) return false;
    }
  }
  return true;
}

void fp8_columns(MatrixView<const float> x, const WeightView& w, MatrixView<float> y, int64_t o_begin,
                 int64_t o_end) {
  const auto* data = static_cast<const uint8_t*>(w.data);
  if (w.block_cols % 8 != 0) {
    columns(x, ScalarRows<Fp8Rows<true>>{{data, w.cols, block_scales(w)}}, y, o_begin, o_end);
  } else if (fused_factor_exact(w, o_begin, o_end)) {
    columns(x, Fp8Rows<true>{data, w.cols, block_scales(w)}, y, o_begin, o_end);
  } else {
    columns(x, Fp8Rows<false>{data, w.cols, block_scales(w)}, y, o_begin, o_end);
  }
}

void fp4_columns(MatrixView<const float> x, const WeightView& w, MatrixView<float> y, int64_t o_begin,
                 int64_t o_end) {
  const Fp4Rows rows{static_cast<const uint8_t*>(w.data), w.cols, block_scales(w)};
  if (w.block_cols % 8 != 0) {
    columns(x, ScalarRows<Fp4Rows>{rows}, y, o_begin, o_end);
  } else {
    columns(x, rows, y, o_begin, o_end);
  }
}

// y = x·Wᵀ in float64 over W's values value(o, i).
template <class Value>
void reference(MatrixView<const float> x, int64_t out, Value value, MatrixView<float> y) {
  for (int64_t t = 0; t < x.rows; ++t) {
    for (int64_t o = 0; o < out; ++o) {
      double s = 0;
      for (int64_t i = 0; i < x.cols; ++i) s += double(x(t, i)) * value(o, i);
      y(t, o) = static_cast<float>(s);
    }
  }
}

}  // namespace

void matmul_columns(MatrixView<const float> x, const WeightView& w, MatrixView<float> y, int64_t o_begin,
                    int64_t o_end) {
  if (o_begin >= o_end) return;
  switch (w.dtype) {
    case DType::kF32:
      return columns(x, F32Rows{w.f32()}, y, o_begin, o_end);
    case DType::kBF16:
      return columns(x, Bf16Rows{static_cast<const uint16_t*>(w.data), w.cols}, y, o_begin, o_end);
    case DType::kF8E4M3:
      return fp8_columns(x, w, y, o_begin, o_end);
    case DType::kF4E2M1x2:
      return fp4_columns(x, w, y, o_begin, o_end);
    default:  // not in CpuBackend::supports(): the loader refuses it; a kernel never throws, so NaN
      for (int64_t t = 0; t < x.rows; ++t)
        for (int64_t o = o_begin; o < o_end; ++o) y(t, o) = std::numeric_limits<float>::quiet_NaN();
  }
}

void matmul_columns(MatrixView<const float> x, MatrixView<const float> w, MatrixView<float> y,
                    int64_t o_begin, int64_t o_end) {
  columns(x, F32Rows{w}, y, o_begin, o_end);
}

double weight_value(const WeightView& w, int64_t r, int64_t c) {
  const auto* bytes = static_cast<const uint8_t*>(w.data);
  const int64_t i = r * w.cols + c;
  switch (w.dtype) {
    case DType::kF32:
      return static_cast<const float*>(w.data)[i];
    case DType::kBF16:
      return bf16_to_f32(static_cast<const uint16_t*>(w.data)[i]);
    case DType::kF8E4M3:
    case DType::kF4E2M1x2: {
      const int64_t s = (r / w.block_rows) * ceil_div(w.cols, w.block_cols) + c / w.block_cols;
      const double scale = scale_value(w.scales, w.scale_dtype, s);
      if (w.dtype == DType::kF8E4M3) return double(fp8_e4m3_to_f32(bytes[i])) * scale;
      const uint8_t byte = bytes[i / 2];  // cols is even: a row's bytes start on a byte
      return double(fp4_e2m1_to_f32(c % 2 == 0 ? byte & 0xF : byte >> 4)) * scale;
    }
    default:
      return std::numeric_limits<double>::quiet_NaN();
  }
}

void matmul_reference(MatrixView<const float> x, const WeightView& w, MatrixView<float> y) {
  reference(x, w.rows, [&](int64_t o, int64_t i) { return weight_value(w, o, i); }, y);
}

void matmul_reference(MatrixView<const float> x, MatrixView<const float> w, MatrixView<float> y) {
  reference(x, w.rows, [&](int64_t o, int64_t i) { return double(w(o, i)); }, y);
}

}  // namespace baleen::cpu
