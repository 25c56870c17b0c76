// Dense fp32 matmul y[T, out] = x[T, in]·Wᵀ: an AVX2 kernel over a range of output columns (the unit of
// parallel work) and its float64 scalar truth. No allocation.
#pragma once

#include "core/tensor.h"

namespace baleen::cpu {

// Computes output columns [o_begin, o_end) of y. Each y(t, o) is the same function of x row t and w row o
// wherever the column falls (in a tile of 4 or the remainder, whatever the range or token count), so
// multiplying a subset of W's rows gives the same bits as the full product's columns.
void matmul_columns(MatrixView<const float> x, MatrixView<const float> w, MatrixView<float> y,
                    int64_t o_begin, int64_t o_end);
void matmul_reference(MatrixView<const float> x, MatrixView<const float> w, MatrixView<float> y);

}  // namespace baleen::cpu
