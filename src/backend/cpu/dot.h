// AVX2/FMA inner products, the building block of the CPU kernels. Inline, no allocation, no threads.
#pragma once

#include <immintrin.h>

#include <cmath>
#include <cstdint>

namespace baleen::cpu {

inline float horizontal_sum(__m256 v) {
  const __m128 lo = _mm256_castps256_ps128(v);
  const __m128 hi = _mm256_extractf128_ps(v, 1);
  __m128 s = _mm_add_ps(lo, hi);
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 0x55));
  return _mm_cvtss_f32(s);
}

// The 8 sums Σ a[i]·b[k][i] as one vector, one accumulator each (8 independent FMA chains), reduced
// together.
[[gnu::always_inline]] inline __m256 dots8(const float* a, const float* const* b, int64_t n) {
  __m256 acc[8];
#pragma GCC unroll 8
  for (int k = 0; k < 8; ++k) acc[k] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 va = _mm256_loadu_ps(a + i);
#pragma GCC unroll 8
    for (int k = 0; k < 8; ++k) acc[k] = _mm256_fmadd_ps(va, _mm256_loadu_ps(b[k] + i), acc[k]);
  }
  const __m256 h01 = _mm256_hadd_ps(_mm256_hadd_ps(acc[0], acc[1]), _mm256_hadd_ps(acc[2], acc[3]));
  const __m256 h23 = _mm256_hadd_ps(_mm256_hadd_ps(acc[4], acc[5]), _mm256_hadd_ps(acc[6], acc[7]));
  __m256 sums = _mm256_add_ps(_mm256_permute2f128_ps(h01, h23, 0x20), _mm256_permute2f128_ps(h01, h23, 0x31));
  if (i < n) {
    alignas(32) float tail[8];
    _mm256_store_ps(tail, sums);
    for (int k = 0; k < 8; ++k)
      for (int64_t j = i; j < n; ++j) tail[k] = std::fma(a[j], b[k][j], tail[k]);
    sums = _mm256_load_ps(tail);
  }
  return sums;
}

// out[k] = Σ a[i]·b[k][i] in fp32, each with two independent accumulators: N sums side by side (their FMA
// chains overlap), each with the bits it has alone.
template <int N>
[[gnu::always_inline]] inline void dots(const float* a, const float* const* b, int64_t n, float* out) {
  __m256 acc0[N], acc1[N];
#pragma GCC unroll 8
  for (int k = 0; k < N; ++k) acc0[k] = acc1[k] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 a0 = _mm256_loadu_ps(a + i), a1 = _mm256_loadu_ps(a + i + 8);
#pragma GCC unroll 8
    for (int k = 0; k < N; ++k) {
      acc0[k] = _mm256_fmadd_ps(a0, _mm256_loadu_ps(b[k] + i), acc0[k]);
      acc1[k] = _mm256_fmadd_ps(a1, _mm256_loadu_ps(b[k] + i + 8), acc1[k]);
    }
  }
  for (; i + 8 <= n; i += 8) {
    const __m256 a0 = _mm256_loadu_ps(a + i);
#pragma GCC unroll 8
    for (int k = 0; k < N; ++k) acc0[k] = _mm256_fmadd_ps(a0, _mm256_loadu_ps(b[k] + i), acc0[k]);
  }
  if constexpr (N == 4) {
    // horizontal_sum's pairings for four sums at once (IEEE addition commutes, so the same bits).
    const __m256 v0 = _mm256_add_ps(acc0[0], acc1[0]), v1 = _mm256_add_ps(acc0[1], acc1[1]);
    const __m256 v2 = _mm256_add_ps(acc0[2], acc1[2]), v3 = _mm256_add_ps(acc0[3], acc1[3]);
    __m256 s01 = _mm256_add_ps(_mm256_permute2f128_ps(v0, v1, 0x20), _mm256_permute2f128_ps(v0, v1, 0x31));
    __m256 s23 = _mm256_add_ps(_mm256_permute2f128_ps(v2, v3, 0x20), _mm256_permute2f128_ps(v2, v3, 0x31));
    s01 = _mm256_add_ps(s01, _mm256_permute_ps(s01, 0b11101110));
    s23 = _mm256_add_ps(s23, _mm256_permute_ps(s23, 0b11101110));
    s01 = _mm256_add_ps(s01, _mm256_permute_ps(s01, 0b01010101));
    s23 = _mm256_add_ps(s23, _mm256_permute_ps(s23, 0b01010101));
    alignas(32) float lanes[16];
    _mm256_store_ps(lanes, s01);
    _mm256_store_ps(lanes + 8, s23);
    for (int k = 0; k < 4; ++k) out[k] = lanes[4 * k];
  } else {
#pragma GCC unroll 8
    for (int k = 0; k < N; ++k) out[k] = horizontal_sum(_mm256_add_ps(acc0[k], acc1[k]));
  }
#pragma GCC unroll 8
  for (int k = 0; k < N; ++k)
    for (int64_t j = i; j < n; ++j) out[k] = std::fma(a[j], b[k][j], out[k]);
}

// Σ a[i]·b[i] in fp32 with two independent accumulators.
inline float dot(const float* a, const float* b, int64_t n) {
  float s;
  dots<1>(a, &b, n, &s);
  return s;
}

// y[i] += Σ_k w[k]·x[k][i], the terms added in k order: y is read and written once for all N rows.
template <int N>
[[gnu::always_inline]] inline void weighted_sum(const float* w, const float* const* x, float* y, int64_t n) {
  __m256 vw[N];
#pragma GCC unroll 8
  for (int k = 0; k < N; ++k) vw[k] = _mm256_set1_ps(w[k]);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256 y0 = _mm256_loadu_ps(y + i), y1 = _mm256_loadu_ps(y + i + 8);
#pragma GCC unroll 8
    for (int k = 0; k < N; ++k) {
      y0 = _mm256_fmadd_ps(vw[k], _mm256_loadu_ps(x[k] + i), y0);
      y1 = _mm256_fmadd_ps(vw[k], _mm256_loadu_ps(x[k] + i + 8), y1);
    }
    _mm256_storeu_ps(y + i, y0);
    _mm256_storeu_ps(y + i + 8, y1);
  }
  for (; i + 8 <= n; i += 8) {
    __m256 y0 = _mm256_loadu_ps(y + i);
#pragma GCC unroll 8
    for (int k = 0; k < N; ++k) y0 = _mm256_fmadd_ps(vw[k], _mm256_loadu_ps(x[k] + i), y0);
    _mm256_storeu_ps(y + i, y0);
  }
  for (; i < n; ++i) {
    for (int k = 0; k < N; ++k) y[i] += w[k] * x[k][i];
  }
}

// y[i] += a·x[i]
inline void axpy(float a, const float* x, float* y, int64_t n) {
  weighted_sum<1>(&a, &x, y, n);
}

}  // namespace baleen::cpu
