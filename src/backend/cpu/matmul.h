// Matmul y[T, out] = x[T, in]·Wᵀ with W in its stored dtype (core/weight_view.h: fp32, bf16, FP8 e4m3
// with block scales, FP4 e2m1 with per-32 scales): an AVX2 kernel over a range of output columns (the unit
// of parallel work) that dequantizes in registers (backend/cpu/weight_rows.h), and its float64 truth.
// No allocation.
//
// Exactness. Each y(t, o) is one fixed sequence of fp32 operations on x row t and the fp32 values of
// w row o: eight lane accumulators take fma(x[i..i+7], w[i..i+7]) over the 8-column chunks in order,
// horizontal_sum folds them, and the columns past the last whole chunk are added one by one. The tile
// an output falls in (2 tokens × 4 rows, 1 × 4, a repeated row at the end of a range), the range, the
// token count and the thread do not change that sequence, so multiplying a subset of W's rows gives the
// same bits as the full product's columns. The readers yield, for every stored dtype, exactly the fp32
// value Checkpoint::load_f32 produces (weight_rows.h says why per format), so a quantized weight gives
// bit-identical results to the fp32 kernel run on its load_f32 copy.
#pragma once

#include "core/tensor.h"
#include "core/weight_view.h"

namespace baleen::cpu {

// Computes output columns [o_begin, o_end) of y. w.dtype must be one of kF32, kBF16, kF8E4M3 and
// kF4E2M1x2 (the latter two with scales, block_rows and block_cols set).
void matmul_columns(MatrixView<const float> x, const WeightView& w, MatrixView<float> y, int64_t o_begin,
                    int64_t o_end);
void matmul_columns(MatrixView<const float> x, MatrixView<const float> w, MatrixView<float> y,
                    int64_t o_begin, int64_t o_end);

// The value of w(r, c): its element × its block's scale, in float64.
double weight_value(const WeightView& w, int64_t r, int64_t c);

void matmul_reference(MatrixView<const float> x, const WeightView& w, MatrixView<float> y);
void matmul_reference(MatrixView<const float> x, MatrixView<const float> w, MatrixView<float> y);

// Whether matmul_columns reads this weight (its dtype and scale format).
bool matmul_supports(const WeightView& w);
// Row r of w as fp32 values (cols of them), as load_f32 gives them.
void weight_row(const WeightView& w, int64_t r, float* out);

}  // namespace baleen::cpu
