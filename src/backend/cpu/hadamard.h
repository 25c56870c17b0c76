// Normalized Walsh–Hadamard transform of each row (Sylvester order, scale n^−½; n a power of two), the
// rotation the reference applies to indexer keys and queries before FP4. In place; float64 truth beside.
#pragma once

#include "core/tensor.h"

namespace baleen::cpu {

void hadamard_rows(MatrixView<float> x, int64_t begin, int64_t end);
void hadamard_reference(MatrixView<float> x);

}  // namespace baleen::cpu
