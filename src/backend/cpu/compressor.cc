#include "backend/cpu/compressor.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "backend/cpu/compressor_pool.h"
#include "backend/cpu/hadamard.h"
#include "backend/cpu/rms_norm.h"
#include "backend/cpu/rope.h"

namespace baleen::cpu {
namespace {

constexpr float kUnused = -std::numeric_limits<float>::infinity();

template <typename T>
T* grow(std::vector<T>& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
  return v.data();
}

// Row j of (tail ++ chunk) for the kv or gate projection.
struct TokenRows {
  const float* tail;
  int64_t tail_rows;
  MatrixView<const float> chunk;
  int64_t width;
  const float* row(int64_t j) const { return j < tail_rows ? tail + j * width : chunk.row(j - tail_rows); }
};

void copy_slice(const float* src, int64_t offset, int64_t n, float* dst) {
  std::copy(src + offset, src + offset + n, dst);
}

// Lays out the pooling slots of `windows` windows: for CSA 2m slots (the previous window's a-halves, then
// this window's b-halves), for HCA the m tokens.
void gather_slots(const TokenRows& kv, const TokenRows& gate, int64_t windows, const CompressorState& st,
                  MatrixView<float> slot_kv, MatrixView<float> slot_gate) {
  const int64_t m = st.spec.ratio, dim = st.spec.dim;
  const bool overlap = st.spec.overlap;
  const int64_t slots = overlap ? 2 * m : m;
  for (int64_t w = 0; w < windows; ++w) {
    for (int64_t j = 0; j < m; ++j) {
      const int64_t token = w * m + j, cur = w * slots + (overlap ? m : 0) + j;
      copy_slice(kv.row(token), overlap ? dim : 0, dim, slot_kv.row(cur));
      copy_slice(gate.row(token), overlap ? dim : 0, dim, slot_gate.row(cur));
      if (!overlap) continue;
      const int64_t prev = w * slots + j;
      if (w > 0) {
        copy_slice(kv.row(token - m), 0, dim, slot_kv.row(prev));
        copy_slice(gate.row(token - m), 0, dim, slot_gate.row(prev));
      } else if (!st.overlap_kv.empty()) {
        copy_slice(st.overlap_kv.data(), j * dim, dim, slot_kv.row(prev));
        copy_slice(st.overlap_gate.data(), j * dim, dim, slot_gate.row(prev));
      } else {  // the first window has no predecessor: those slots get softmax weight 0
        std::fill(slot_kv.row(prev), slot_kv.row(prev) + dim, 0.0f);
        std::fill(slot_gate.row(prev), slot_gate.row(prev) + dim, kUnused);
      }
    }
  }
}

// Keeps the a-halves of the last closed window (CSA) and the unclosed rows as the new tail.
void update_tail(const TokenRows& kv, const TokenRows& gate, int64_t total, int64_t windows,
                 CompressorState& st) {
  const int64_t m = st.spec.ratio, dim = st.spec.dim, w = st.width;
  if (windows > 0 && st.spec.overlap) {
    st.overlap_kv.resize(static_cast<size_t>(m * dim));
    st.overlap_gate.resize(static_cast<size_t>(m * dim));
    for (int64_t j = 0; j < m; ++j) {
      copy_slice(kv.row((windows - 1) * m + j), 0, dim, st.overlap_kv.data() + j * dim);
      copy_slice(gate.row((windows - 1) * m + j), 0, dim, st.overlap_gate.data() + j * dim);
    }
  }
  // Rows move down within (tail ++ chunk): row j takes row windows·m + j, never a row still to be read.
  const int64_t keep = total - windows * m;
  const size_t row_bytes = static_cast<size_t>(w) * sizeof(float);
  for (int64_t j = 0; j < keep; ++j) {
    std::memmove(st.tail_kv.data() + j * w, kv.row(windows * m + j), row_bytes);
    std::memmove(st.tail_gate.data() + j * w, gate.row(windows * m + j), row_bytes);
  }
  st.tail_rows = keep;
}

}  // namespace

void compressor_append(ThreadPool& pool, const Backend::CompressorParams& p, MatrixView<const float> kv,
                       MatrixView<const float> gate_in, int64_t first_position, CompressorState& st,
                       CompressorScratch& scratch) {
  const int64_t tokens = kv.rows, width = st.width, m = st.spec.ratio, dim = st.spec.dim;
  MatrixView<float> gate{grow(scratch.gate, tokens * width), tokens, width};
  for (int64_t t = 0; t < tokens; ++t) {  // ape by the token's place in its window
    const float* ape = p.ape + ((first_position + t) % m) * width;
    for (int64_t c = 0; c < width; ++c) gate(t, c) = gate_in(t, c) + ape[c];
  }
  const TokenRows kv_rows{st.tail_kv.data(), st.tail_rows, kv, width};
  const TokenRows gate_rows{st.tail_gate.data(), st.tail_rows, gate, width};
  const int64_t total = st.tail_rows + tokens, windows = total / m;
  if (windows > 0) {
    const int64_t slots = st.spec.overlap ? 2 * m : m;
    MatrixView<float> slot_kv{grow(scratch.slot_kv, windows * slots * dim), windows * slots, dim};
    MatrixView<float> slot_gate{grow(scratch.slot_gate, windows * slots * dim), windows * slots, dim};
    gather_slots(kv_rows, gate_rows, windows, st, slot_kv, slot_gate);
    MatrixView<float> entries{grow(scratch.entries, windows * dim), windows, dim};
    pool.parallel_for(windows, 1, [&](int64_t b, int64_t e) {
      compressor_pool_entries(slot_kv, slot_gate, slots, entries, b, e);
      rms_norm_rows(entries, p.norm, p.eps, entries, b, e);
    });
    std::vector<int64_t>& positions = scratch.positions;
    positions.clear();
    for (int64_t i = 0; i < windows; ++i) positions.push_back((st.entries.count() + i) * m);
    rope_rows(entries, dim, positions.data(), p.rope, false, 0, windows);
    if (p.rotate) hadamard_rows(entries, 0, windows);
    for (int64_t i = 0; i < windows; ++i) st.entries.append(entries.row(i));
  }
  update_tail(kv_rows, gate_rows, total, windows, st);
}

}  // namespace baleen::cpu
