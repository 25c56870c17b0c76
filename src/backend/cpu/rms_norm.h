// RMSNorm per row: y = x·rsqrt(mean(x²)+eps)·weight (weight null: unweighted), fp32, and its float64
// truth. x and y may alias.
#pragma once

#include "core/tensor.h"

namespace baleen::cpu {

void rms_norm_rows(MatrixView<const float> x, const float* weight, float eps, MatrixView<float> y,
                   int64_t begin, int64_t end);
void rms_norm_reference(MatrixView<const float> x, const float* weight, float eps, MatrixView<float> y);

}  // namespace baleen::cpu
