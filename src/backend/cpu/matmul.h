// Dense fp32 matmul y[T, out] = x[T, in]·Wᵀ: an AVX2 kernel over a range of output columns (the unit of
// parallel work) and its float64 scalar truth. No allocation.
#pragma once

#include "core/tensor.h"
#include "core/weight_view.h"

namespace baleen::cpu {

// Computes output columns [o_begin, o_end) of y. Each y(t, o) is the same function of x row t and w row o
// wherever the column falls (in a tile of 4 or the remainder, whatever the range or token count), so
// multiplying a subset of W's rows gives the same bits as the full product's columns.
void matmul_columns(MatrixView<const float> x, MatrixView<const float> w, MatrixView<float> y,
                    int64_t o_begin, int64_t o_end);
void matmul_reference(MatrixView<const float> x, MatrixView<const float> w, MatrixView<float> y);

// The same over a weight in its stored dtype (kF32, kBF16, kF8E4M3 with block scales, kF4E2M1x2 with
// 1×32 scales): each weight value is the fp32 value of element × scale (what Checkpoint::load_f32 gives)
// and enters the same tiles in the same order, so the bits equal the fp32 product of those values.
bool matmul_supports(const WeightView& w);
// Output column o reads weight row o + w_row (a group of the grouped matmul, which may start inside a
// scale block).
void matmul_columns(MatrixView<const float> x, const WeightView& w, MatrixView<float> y, int64_t o_begin,
                    int64_t o_end, int64_t w_row = 0);
// Row r of w as fp32 values (cols of them).
void weight_row(const WeightView& w, int64_t r, float* out);

}  // namespace baleen::cpu
