// The k largest of a row of scores, sorted by (score descending, index ascending), by one CTA of
// kSelectThreads threads: radix-select the k-th largest (11 + 11 + 10-bit digits over order-preserving
// keys), gather everything above it plus the lowest-index entries equal to it (one pass, unless more
// than kSelectMaxK tie), bitonic-sort them. The order of a stable descending sort of the scores' bits,
// so the picks of a sort and of this agree. A pass over the row keeps kSelectUnroll loads in flight a
// thread (one CTA reads the whole row, so its loads' latency is much of what a pass costs).
#pragma once

#include <cstdint>

#include "backend/cuda/block_scan.cuh"

namespace baleen::cuda {

inline constexpr int kSelectThreads = 1024, kSelectMaxK = 1024, kSelectUnroll = 8;

// Order-preserving unsigned key of a float: larger float, larger key.
__device__ __forceinline__ uint32_t order_key(float f) {
  const uint32_t u = __float_as_uint(f);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

// The first pass's digit: a key's top 11 bits. A kernel that writes the scores may count them by it
// (kTopDigits counts a row), so the selection starts at its second pass.
inline constexpr int kTopDigits = 2048, kTopDigitShift = 21;
__device__ __forceinline__ int top_digit(float score) { return static_cast<int>(order_key(score) >> kTopDigitShift); }

// Sort key: score descending, then index ascending.
__device__ __forceinline__ uint64_t composite(uint32_t key, int64_t index) {
  return (uint64_t{key} << 32) | (0xFFFFFFFFu - static_cast<uint32_t>(index));
}

struct SelectSmem {
  int hist[2048];
  int warp_sums[32];
  uint64_t cand[kSelectMaxK];
  uint64_t equal[kSelectMaxK];  // the entries equal to the threshold, while they fit
  uint32_t prefix, prefix_mask;
  int remaining, n_gt, n_eq, taken;
};

// a[0, count) sorted descending by the CTA (count ≤ kSelectMaxK; padded with 0, below every real key).
__device__ inline void bitonic_sort_descending(uint64_t* a, int count) {
  int n = 1;
  while (n < count) n *= 2;
  for (int i = count + threadIdx.x; i < n; i += kSelectThreads) a[i] = 0;
  __syncthreads();
  for (int size = 2; size <= n; size *= 2) {
    for (int stride = size / 2; stride > 0; stride /= 2) {
      for (int i = threadIdx.x; i < n; i += kSelectThreads) {
        const int j = i ^ stride;
        if (j > i) {
          const bool descending = (i & size) == 0;
          const uint64_t x = a[i], y = a[j];
          if ((x < y) == descending) a[i] = y, a[j] = x;
        }
      }
      __syncthreads();
    }
  }
}

// f(i, valid, score) for every i of the row's [0, visible), by every thread of the CTA (valid false past
// the end), kSelectUnroll scores loaded before any is used.
template <class F>
__device__ inline void for_each_score(const float* scores, int64_t visible, F&& f) {
  for (int64_t base = threadIdx.x; base < visible; base += int64_t{kSelectUnroll} * kSelectThreads) {
    float v[kSelectUnroll];
#pragma unroll
    for (int u = 0; u < kSelectUnroll; ++u) {
      const int64_t i = base + int64_t{u} * kSelectThreads;
      v[u] = i < visible ? scores[i] : 0.0f;
    }
#pragma unroll
    for (int u = 0; u < kSelectUnroll; ++u) {
      const int64_t i = base + int64_t{u} * kSelectThreads;
      f(i, i < visible, v[u]);
    }
  }
}

// The digit (of the histogram's bins, counted from the top) where the `remaining`-th largest falls.
__device__ inline void choose_digit(SelectSmem& sm, int bins, int shift) {
  // Thread i owns bins from the top: 2i and 2i+1 counted downward.
  const int r = sm.remaining;  // read before any thread below updates it
  const int hi = bins - 1 - 2 * threadIdx.x;
  const int c0 = hi >= 0 ? sm.hist[hi] : 0, c1 = hi - 1 >= 0 ? sm.hist[hi - 1] : 0;
  int total = 0;
  const int incl = block_inclusive_scan(c0 + c1, sm.warp_sums, &total);
  const int before = incl - c0 - c1;  // elements in higher bins
  int digit = -1, above = 0;
  if (before < r && r <= before + c0)
    digit = hi, above = before;
  else if (before + c0 < r && r <= incl)
    digit = hi - 1, above = before + c0;
  if (digit >= 0) {
    sm.remaining = r - above;
    sm.prefix |= static_cast<uint32_t>(digit) << shift;
    sm.prefix_mask |= static_cast<uint32_t>(bins - 1) << shift;
  }
  __syncthreads();
}

// picks[0, k) ← the indices of the min(k, visible) best of scores[0, visible) in order, −1 after them.
// Every thread of the CTA calls it (k ≤ kSelectMaxK). top_counts, where given, is the row's count of
// scores by top_digit (its kTopDigits ints).
__device__ inline void select_top_k_row(const float* scores, int64_t visible, int64_t k, int32_t* picks,
                                        SelectSmem& sm, const int* top_counts = nullptr) {
  const int take = static_cast<int>(min(k, visible));
  if (threadIdx.x == 0) sm.prefix = 0, sm.prefix_mask = 0, sm.remaining = take, sm.n_gt = 0, sm.n_eq = 0, sm.taken = 0;
  __syncthreads();
  const int shifts[3] = {kTopDigitShift, 10, 0}, widths[3] = {11, 11, 10};
  for (int pass = 0; pass < 3 && take > 0 && take < visible; ++pass) {
    const int bins = 1 << widths[pass];
    const bool counted = pass == 0 && top_counts != nullptr;
    for (int i = threadIdx.x; i < bins; i += kSelectThreads) sm.hist[i] = counted ? top_counts[i] : 0;
    __syncthreads();
    const uint32_t prefix = sm.prefix, mask = sm.prefix_mask;
    const int shift = shifts[pass];
    if (!counted) {
      for_each_score(scores, visible, [&](int64_t, bool valid, float score) {
        const uint32_t key = order_key(score);
        if (valid && (key & mask) == prefix) atomicAdd(&sm.hist[(key >> shift) & (bins - 1)], 1);
      });
    }
    __syncthreads();
    choose_digit(sm, bins, shifts[pass]);
  }
  // take == visible: everything; otherwise the threshold key is sm.prefix, of which `remaining` are taken.
  const bool all = take >= visible;
  const uint32_t threshold = sm.prefix;
  const int need_equal = sm.remaining;
  for_each_score(scores, visible, [&](int64_t i, bool valid, float score) {
    const uint32_t key = order_key(score);
    if (!valid) return;
    if (all || key > threshold) {
      sm.cand[atomicAdd(&sm.n_gt, 1)] = composite(key, i);
    } else if (key == threshold) {
      const int at = atomicAdd(&sm.n_eq, 1);
      if (at < kSelectMaxK) sm.equal[at] = composite(key, i);
    }
  });
  __syncthreads();
  const int n_gt = sm.n_gt, n_eq = sm.n_eq;
  if (!all && n_eq <= kSelectMaxK) {
    // The lowest-index need_equal of them: equal keys, so descending composites are ascending indices.
    if (n_eq > need_equal) bitonic_sort_descending(sm.equal, n_eq);
    for (int i = threadIdx.x; i < need_equal; i += kSelectThreads) sm.cand[n_gt + i] = sm.equal[i];
    __syncthreads();
  }
  // Too many ties to hold: take the equal ones in index order, a CTA-wide scan at a time.
  for (int64_t base = 0; !all && n_eq > kSelectMaxK && base < visible && sm.taken < need_equal;
       base += kSelectThreads) {
    const int64_t i = base + threadIdx.x;
    const bool eq = i < visible && order_key(scores[i]) == threshold;
    int total = 0;
    const int incl = block_inclusive_scan(eq ? 1 : 0, sm.warp_sums, &total);
    const int pos = sm.taken + incl - 1;
    if (eq && pos < need_equal) sm.cand[n_gt + pos] = composite(threshold, i);
    __syncthreads();
    if (threadIdx.x == 0) sm.taken += total;
    __syncthreads();
  }
  bitonic_sort_descending(sm.cand, take);
  for (int i = threadIdx.x; i < k; i += kSelectThreads)
    picks[i] =
        i < take ? static_cast<int32_t>(0xFFFFFFFFu - static_cast<uint32_t>(sm.cand[i])) : -1;
}

}  // namespace baleen::cuda
