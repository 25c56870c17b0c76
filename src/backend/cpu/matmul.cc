#include "backend/cpu/matmul.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "backend/cpu/dot.h"
#include "backend/cpu/weight_rows.h"

namespace baleen::cpu {
namespace {

constexpr int64_t kPrefetchRows = 4;  // the row tile of columns()

// When a line of the weight starts within the columns [i, i + step) (step 8 or 16), prefetch the same
// line of the next row tile, a whole tile ahead: those loads reach DRAM while this tile computes. Without
// it the hardware prefetcher, which stops at each 4 KiB page, leaves the decoding kernels waiting on
// memory and computing in turn.
template <int kR, class Rows>
void prefetch_next_tile(const Rows& rows, const int64_t (&r)[kR], int64_t i, int64_t step) {
  int64_t start = -1;
  if (i % Rows::kLineCols == 0)
    start = i;
  else if (step == 16 && (i + 8) % Rows::kLineCols == 0)
    start = i + 8;
  if (start < 0) return;
#pragma GCC unroll 8
  for (int k = 0; k < kR; ++k)
    _mm_prefetch(reinterpret_cast<const char*>(rows.address(r[k] + kPrefetchRows, start)), _MM_HINT_T0);
}

// The unroll pragmas and forced inlining keep the accumulators and row readers in registers (GCC -O2
// leaves these loops rolled and the arrays on the stack once the readers' bodies grow).

// a[t][k] += x[t][i..i+7] ⊙ w[k] for every token and row: the one place the sums grow.
template <int kT, int kR>
[[gnu::always_inline]] inline void accumulate(__m256 (&a)[kT][kR], const float* const (&x)[kT],
                                              const __m256 (&w)[kR], int64_t i) {
#pragma GCC unroll 8
  for (int t = 0; t < kT; ++t) {
    const __m256 vx = _mm256_loadu_ps(x[t] + i);
#pragma GCC unroll 8
    for (int k = 0; k < kR; ++k) a[t][k] = _mm256_fmadd_ps(vx, w[k], a[t][k]);
  }
}

// The chunks [s0, s1) of one segment: 16 columns a step, then one chunk of 8 if left.
template <int kT, int kR, class Rows>
[[gnu::always_inline]] inline void segment_chunks(const Rows& rows, const typename Rows::Row (&w)[kR],
                                                  const int64_t (&r)[kR], __m256 (&a)[kT][kR],
                                                  const float* const (&x)[kT], int64_t s0, int64_t s1) {
  int64_t i = s0;
  for (; i + 16 <= s1; i += 16) {
    prefetch_next_tile<kR>(rows, r, i, 16);
    __m256 lo[kR], hi[kR];
#pragma GCC unroll 8
    for (int k = 0; k < kR; ++k) {
      __m256 v[2];
      w[k].load2(i, v);
      lo[k] = v[0], hi[k] = v[1];
    }
    accumulate<kT, kR>(a, x, lo, i);
    accumulate<kT, kR>(a, x, hi, i + 8);
  }
  if (i < s1) {
    prefetch_next_tile<kR>(rows, r, i, 8);
    __m256 v[kR];
#pragma GCC unroll 8
    for (int k = 0; k < kR; ++k) v[k] = w[k].load(i);
    accumulate<kT, kR>(a, x, v, i);
  }
}

// kT tokens × kR weight rows (kT·kR accumulators and kR decoded chunks within the 16 ymm registers).
// Segments are the weight's scale blocks: the readers set their scale there, off the hot loop.
template <int kT, int kR, class Rows>
void tile(const Rows& rows, const float* const (&x)[kT], const int64_t (&r)[kR], int64_t n,
          float (&out)[kT][kR]) {
  typename Rows::Row w[kR];
#pragma GCC unroll 8
  for (int k = 0; k < kR; ++k) w[k] = rows.row(r[k]);
  __m256 a[kT][kR];
#pragma GCC unroll 8
  for (int t = 0; t < kT; ++t)
#pragma GCC unroll 8
    for (int k = 0; k < kR; ++k) a[t][k] = _mm256_setzero_ps();
  const int64_t body = n / 8 * 8;
  const int64_t width = rows.segment_cols() > 0 ? rows.segment_cols() : std::max<int64_t>(body, 1);
  for (int64_t s0 = 0, segment = 0; s0 < body; s0 += width, ++segment) {
#pragma GCC unroll 8
    for (int k = 0; k < kR; ++k) w[k].segment(segment);
    segment_chunks<kT, kR>(rows, w, r, a, x, s0, std::min(body, s0 + width));
  }
  for (int t = 0; t < kT; ++t) {
    for (int k = 0; k < kR; ++k) {
      out[t][k] = horizontal_sum(a[t][k]);
      for (int64_t j = body; j < n; ++j) out[t][k] += x[t][j] * w[k].at(j);
    }
  }
}

// Tokens t..t+kT−1 against the 4 rows r (of output columns o..o+left−1), kR rows per tile.
template <int kT, int kR, class Rows>
void tokens_tile(const Rows& rows, MatrixView<const float> x, int64_t t, const int64_t (&r)[4],
                 MatrixView<float> y, int64_t o, int64_t left) {
  const float* xs[kT];
  for (int i = 0; i < kT; ++i) xs[i] = x.row(t + i);
  for (int k0 = 0; k0 < left; k0 += kR) {
    int64_t rr[kR];
    for (int k = 0; k < kR; ++k) rr[k] = r[k0 + k];
    float out[kT][kR];
    tile<kT, kR>(rows, xs, rr, x.cols, out);
    for (int i = 0; i < kT; ++i)
      for (int k = 0; k < kR && k0 + k < left; ++k) y(t + i, o + k0 + k) = out[i][k];
  }
}

// Output columns in tiles of 4 weight rows; the last 1–3 columns repeat the range's last row in the
// missing slots (their sums are dropped). Tokens go 2 at a time (4 at a time, 2 rows per tile, where
// the reader decodes: each decoded chunk then serves 4 tokens, not 2), an odd last one alone.
template <class Rows>
void columns(MatrixView<const float> x, const Rows& rows, MatrixView<float> y, int64_t o_begin,
             int64_t o_end) {
  const int64_t tokens = x.rows;
  for (int64_t o = o_begin; o < o_end; o += 4) {
    const int64_t left = std::min<int64_t>(4, o_end - o);
    const int64_t r[4] = {o, o + std::min<int64_t>(1, left - 1), o + std::min<int64_t>(2, left - 1),
                          o + left - 1};
    int64_t t = 0;
    if constexpr (Rows::kDecodes) {
      for (; t + 4 <= tokens; t += 4) tokens_tile<4, 2>(rows, x, t, r, y, o, left);
    }
    for (; t + 2 <= tokens; t += 2) tokens_tile<2, 4>(rows, x, t, r, y, o, left);
    if (t < tokens) tokens_tile<1, 4>(rows, x, t, r, y, o, left);
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

template <DType kScale>
void fp8_columns(MatrixView<const float> x, const WeightView& w, MatrixView<float> y, int64_t o_begin,
                 int64_t o_end) {
  const auto* data = static_cast<const uint8_t*>(w.data);
  if (w.block_cols % 8 != 0) {
    columns(x, ScalarRows<Fp8Rows<true, kScale>>{{data, w.cols, block_scales(w)}}, y, o_begin, o_end);
  } else if (fused_factor_exact(w, o_begin, o_end)) {
    columns(x, Fp8Rows<true, kScale>{data, w.cols, block_scales(w)}, y, o_begin, o_end);
  } else {
    columns(x, Fp8Rows<false, kScale>{data, w.cols, block_scales(w)}, y, o_begin, o_end);
  }
}

template <DType kScale>
void fp4_columns(MatrixView<const float> x, const WeightView& w, MatrixView<float> y, int64_t o_begin,
                 int64_t o_end) {
  const Fp4Rows<kScale> rows{static_cast<const uint8_t*>(w.data), w.cols, block_scales(w)};
  if (w.block_cols % 8 != 0) {
    columns(x, ScalarRows<Fp4Rows<kScale>>{rows}, y, o_begin, o_end);
  } else {
    columns(x, rows, y, o_begin, o_end);
  }
}

// The block-scaled kernels, instantiated per scale dtype (kUE8M0, kF32, kBF16).
template <template <DType> class Kernel>
void by_scale(MatrixView<const float> x, const WeightView& w, MatrixView<float> y, int64_t o_begin,
              int64_t o_end) {
  switch (w.scale_dtype) {
    case DType::kUE8M0:
      return Kernel<DType::kUE8M0>::run(x, w, y, o_begin, o_end);
    case DType::kBF16:
      return Kernel<DType::kBF16>::run(x, w, y, o_begin, o_end);
    default:
      return Kernel<DType::kF32>::run(x, w, y, o_begin, o_end);
  }
}

template <DType kScale>
struct Fp8Kernel {
  static void run(MatrixView<const float> x, const WeightView& w, MatrixView<float> y, int64_t b, int64_t e) {
    fp8_columns<kScale>(x, w, y, b, e);
  }
};
template <DType kScale>
struct Fp4Kernel {
  static void run(MatrixView<const float> x, const WeightView& w, MatrixView<float> y, int64_t b, int64_t e) {
    fp4_columns<kScale>(x, w, y, b, e);
  }
};

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
      return by_scale<Fp8Kernel>(x, w, y, o_begin, o_end);
    case DType::kF4E2M1x2:
      return by_scale<Fp4Kernel>(x, w, y, o_begin, o_end);
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

bool matmul_supports(const WeightView& w) {
  return stored_format(w);
}

// The double product of two floats is exact, so its rounding to float is load_f32's one fp32 rounding.
void weight_row(const WeightView& w, int64_t r, float* out) {
  for (int64_t c = 0; c < w.cols; ++c) out[c] = static_cast<float>(weight_value(w, r, c));
}

void matmul_reference(MatrixView<const float> x, const WeightView& w, MatrixView<float> y) {
  reference(
      x, w.rows, [&](int64_t o, int64_t i) { return weight_value(w, o, i); }, y);
}

void matmul_reference(MatrixView<const float> x, MatrixView<const float> w, MatrixView<float> y) {
  reference(
      x, w.rows, [&](int64_t o, int64_t i) { return double(w(o, i)); }, y);
}

}  // namespace baleen::cpu
