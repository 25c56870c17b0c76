#include "backend/cuda/kv_codec.cuh"
#include "kv_codec_kernels.h"

namespace baleen::test {
namespace {

__global__ void encode_kernel(cuda::DeviceCodec c, const float* rows, uint8_t* data, uint8_t* scales) {
  cuda::encode_row_block(c, rows + int64_t{blockIdx.x} * c.dim, data + int64_t{blockIdx.x} * c.data_bytes,
                         scales + int64_t{blockIdx.x} * c.scale_bytes);
}

__global__ void decode_kernel(cuda::DeviceCodec c, const uint8_t* data, const uint8_t* scales, float* rows) {
  const uint8_t* d = data + int64_t{blockIdx.x} * c.data_bytes;
  const uint8_t* s = scales + int64_t{blockIdx.x} * c.scale_bytes;
  for (int i = threadIdx.x; i < c.dim; i += blockDim.x)
    rows[int64_t{blockIdx.x} * c.dim + i] = cuda::decode_element(c, d, s, i);
}

}  // namespace

cudaError_t encode_rows(const KvCodec& codec, const float* rows, int64_t count, int threads, uint8_t* data,
                        uint8_t* scales, cudaStream_t stream) {
  encode_kernel<<<static_cast<unsigned>(count), threads, 0, stream>>>(cuda::device_codec(codec), rows, data,
                                                                      scales);
  return cudaGetLastError();
}

cudaError_t decode_rows(const KvCodec& codec, const uint8_t* data, const uint8_t* scales, int64_t count,
                        float* rows, cudaStream_t stream) {
  decode_kernel<<<static_cast<unsigned>(count), 128, 0, stream>>>(cuda::device_codec(codec), data, scales,
                                                                  rows);
  return cudaGetLastError();
}

}  // namespace baleen::test
