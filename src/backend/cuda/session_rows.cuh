// Where a session's rows are and which of them a query sees: the device helpers the session kernels share
// (session_kernels.cu, paper_attention.cu). Header-only device code.
#pragma once

#include <cstdint>

#include "backend/cuda/session_kernels.h"

namespace baleen::cuda {

__device__ inline const uint8_t* stored_data(const StoredRowsRef& r, int64_t i) {
  return r.pages[i / r.page_rows] + (i % r.page_rows) * r.codec.data_bytes;
}
__device__ inline const uint8_t* stored_scales(const StoredRowsRef& r, int64_t i) {
  return r.pages[i / r.page_rows] + r.page_rows * r.codec.data_bytes + (i % r.page_rows) * r.codec.scale_bytes;
}

// How many of a sequence's compressed entries position p sees: one per `ratio` positions completed, never
// more than are stored (cpu::visible_entries, the same count).
__device__ inline int64_t visible_entries(const SequenceKeys& s, int64_t p) {
  return min(s.entry_count, (p + 1) / s.ratio);
}

// Query t's key list at position p: window positions first … p, then its entries (picks or every visible
// one); a pick of −1 names no key.
struct KeyList {
  int64_t first, window_keys, entry_keys;
};

__device__ inline KeyList key_list(const AttentionLaunch& a, const SequenceKeys& s, int64_t p) {
  KeyList l;
  l.first = max(int64_t{0}, p - s.window + 1);
  l.window_keys = p - l.first + 1;
  l.entry_keys = s.ratio == 0 ? 0 : a.picks ? a.pick_cols : visible_entries(s, p);
  return l;
}

}  // namespace baleen::cuda
