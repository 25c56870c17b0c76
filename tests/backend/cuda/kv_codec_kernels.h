// Test launchers that expose kv_codec.cuh's device functions directly, one row a block: rows encoded into
// stored parts (row r's data part at data + r·data_bytes, its scale part at scales + r·scale_bytes) and
// stored parts decoded into rows (dim floats apart). Device pointers; asynchronous; the launch status.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "model/kv_codec.h"

namespace baleen::test {

cudaError_t encode_rows(const KvCodec& codec, const float* rows, int64_t count, int threads, uint8_t* data,
                        uint8_t* scales, cudaStream_t stream);
cudaError_t decode_rows(const KvCodec& codec, const uint8_t* data, const uint8_t* scales, int64_t count,
                        float* rows, cudaStream_t stream);

}  // namespace baleen::test
