// Prefix sums over a CTA of up to 1024 threads (blockDim a multiple of 32): a warp scan by shuffles, then
// one warp scans the warps' sums in shared memory. Every thread of the CTA calls them.
#pragma once

namespace baleen::cuda {

// Σ v over threads 0 … threadIdx.x; *total gets the CTA's sum. warp_sums: 32 ints of shared memory.
__device__ inline int block_inclusive_scan(int v, int* warp_sums, int* total) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  int x = v;
  for (int o = 1; o < 32; o *= 2) {
    const int n = __shfl_up_sync(0xffffffffu, x, o);
    if (lane >= o) x += n;
  }
  if (lane == 31) warp_sums[warp] = x;
  __syncthreads();
  if (warp == 0) {
    int s = lane < static_cast<int>(blockDim.x / 32) ? warp_sums[lane] : 0;
    for (int o = 1; o < 32; o *= 2) {
      const int n = __shfl_up_sync(0xffffffffu, s, o);
      if (lane >= o) s += n;
    }
    warp_sums[lane] = s;
  }
  __syncthreads();
  const int result = x + (warp > 0 ? warp_sums[warp - 1] : 0);
  *total = warp_sums[31];
  __syncthreads();
  return result;
}

// Σ v over threads 0 … threadIdx.x − 1.
__device__ inline int block_exclusive_scan(int v, int* warp_sums, int* total) {
  return block_inclusive_scan(v, warp_sums, total) - v;
}

}  // namespace baleen::cuda
