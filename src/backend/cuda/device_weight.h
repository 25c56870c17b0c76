// A stored weight as the CUDA backend's general kernels read it: a plain description of a WeightView
// (core/weight_view.h), built on the host, so device code needs no C++20 header. weight_values.cuh reads
// its elements.
#pragma once

#include <cstdint>

namespace baleen::cuda {

// DType's values (core/dtype.h) for the kinds the kernels read.
enum : int { kDtF32 = 0, kDtBF16 = 2, kDtF8E4M3 = 3, kDtF4E2M1x2 = 4, kDtUE8M0 = 5 };

struct DeviceWeight {
  int dtype = kDtF32, scale_dtype = kDtUE8M0;
  const void* data = nullptr;
  const void* scales = nullptr;  // [scale_rows, scale_cols] row-major; null when not quantized
  int64_t rows = 0, cols = 0;
  int64_t block_rows = 1, block_cols = 1, scale_cols = 0;
};

}  // namespace baleen::cuda
