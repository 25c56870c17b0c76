// Compressor pooling (spec "Compressors"): per entry and channel, a softmax over the entry's slots of the
// gate logits weights the slots' kv. Slots with gate −inf are unused. Fast kernel over an entry range
// and float64 truth. No allocation.
#pragma once

#include "core/tensor.h"

namespace baleen::cpu {

void compressor_pool_entries(MatrixView<const float> kv, MatrixView<const float> gate, int64_t slots,
                             MatrixView<float> entries, int64_t begin, int64_t end);
void compressor_pool_reference(MatrixView<const float> kv, MatrixView<const float> gate, int64_t slots,
                               MatrixView<float> entries);

}  // namespace baleen::cpu
