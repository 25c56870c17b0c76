#include "backend/cuda/activation_quant.h"
#include "backend/cuda/block_scale.cuh"

namespace baleen::cuda {
namespace {

constexpr int kWarpsPerBlock = 8;

// One warp per 1×128 block: each lane quantizes 4 consecutive values.
__global__ void quantize_activations_kernel(const float* __restrict__ x, int64_t x_stride, Fp8Activations out,
                                            int64_t blocks_per_row) {
  const int64_t block = int64_t{blockIdx.x} * kWarpsPerBlock + threadIdx.x / 32;
  if (block >= out.rows * blocks_per_row) return;
  const int64_t r = block / blocks_per_row, b = block % blocks_per_row;
  const int lane = threadIdx.x % 32;
  const float4 v = *reinterpret_cast<const float4*>(x + r * x_stride + b * kActivationBlock + lane * 4);
  float scale = 0;
  const uint32_t codes = quantize_block_warp(v, &scale);
  *reinterpret_cast<uint32_t*>(out.data + r * out.cols + b * kActivationBlock + lane * 4) = codes;
  if (lane == 0) out.scales[r * out.scale_row_stride + b * out.scale_block_stride] = scale;
}

}  // namespace

cudaError_t quantize_activations(const float* x, int64_t x_stride, const Fp8Activations& out,
                                 cudaStream_t stream) {
  if (out.cols % kActivationBlock != 0 || x_stride % 4 != 0 || out.rows <= 0) return cudaErrorInvalidValue;
  const int64_t blocks_per_row = out.cols / kActivationBlock, blocks = out.rows * blocks_per_row;
  const auto grid = static_cast<unsigned>((blocks + kWarpsPerBlock - 1) / kWarpsPerBlock);
  quantize_activations_kernel<<<grid, kWarpsPerBlock * 32, 0, stream>>>(x, x_stride, out, blocks_per_row);
  return cudaGetLastError();
}

}  // namespace baleen::cuda
