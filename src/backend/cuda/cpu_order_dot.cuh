// Dot products in the CPU backend's summation order (backend/cpu/dot.h, as GCC compiles it), so an indexer
// score computed on the device has the CPU's bits. Header-only device code.
#pragma once

#include <cuda_runtime.h>

namespace baleen::cuda {

// Σ_i q(i)·k_j(i) for kKeys keys side by side: 16 FMA chains over i mod 16 in blocks of 16, then 8 more
// into chains 0–7 if 8 remain, chain l + chain l+8, the 8-lane tree (l + 4, then l + 2, then l + 1), then
// the scalar tail as FMAs. q is read once for the keys. Keys give k.quad(j, i) (values i … i+3, i a
// multiple of 4) and k.one(j, i).
template <int kKeys, class Query, class Keys>
__device__ inline void cpu_order_dots(const Query& q, const Keys& k, int n, float* out) {
  float acc[kKeys][16] = {};
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    float qv[16];
#pragma unroll
    for (int l = 0; l < 16; ++l) qv[l] = q(i + l);
#pragma unroll
    for (int j = 0; j < kKeys; ++j) {
#pragma unroll
      for (int v = 0; v < 4; ++v) {
        const float4 x = k.quad(j, i + 4 * v);
        acc[j][4 * v] = fmaf(qv[4 * v], x.x, acc[j][4 * v]);
        acc[j][4 * v + 1] = fmaf(qv[4 * v + 1], x.y, acc[j][4 * v + 1]);
        acc[j][4 * v + 2] = fmaf(qv[4 * v + 2], x.z, acc[j][4 * v + 2]);
        acc[j][4 * v + 3] = fmaf(qv[4 * v + 3], x.w, acc[j][4 * v + 3]);
      }
    }
  }
  if (i + 8 <= n) {
#pragma unroll
    for (int j = 0; j < kKeys; ++j) {
#pragma unroll
      for (int l = 0; l < 8; ++l) acc[j][l] = fmaf(q(i + l), k.one(j, i + l), acc[j][l]);
    }
    i += 8;
  }
#pragma unroll
  for (int j = 0; j < kKeys; ++j) {
    float t[8];
#pragma unroll
    for (int l = 0; l < 8; ++l) t[l] = __fadd_rn(acc[j][l], acc[j][l + 8]);
    const float u0 = __fadd_rn(t[0], t[4]), u1 = __fadd_rn(t[1], t[5]), u2 = __fadd_rn(t[2], t[6]),
                u3 = __fadd_rn(t[3], t[7]);
    float sum = __fadd_rn(__fadd_rn(u0, u2), __fadd_rn(u1, u3));
    for (int r = i; r < n; ++r) sum = fmaf(q(r), k.one(j, r), sum);
    out[j] = sum;
  }
}

}  // namespace baleen::cuda
