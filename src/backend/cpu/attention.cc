#include "backend/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "backend/cpu/dot.h"
#include "backend/cpu/indexer.h"
#include "backend/cpu/vector_exp.h"

namespace baleen::cpu {
namespace {

// One key as the kernel meets it: an fp32 row, or a stored row to decode.
struct KeyRef {
  const float* row = nullptr;
  const KvCodec* codec = nullptr;
  const uint8_t* data = nullptr;
  const uint8_t* scales = nullptr;

  const float* resolve(float* scratch) const { return row ? row : read_row(*codec, data, scales, scratch); }
};

// Where a sequence's keys come from: window positions (absolute) and compressed entries.
int64_t window_first(const AttentionKeys& keys, int64_t p) {
  return std::max(keys.window_start, p - keys.window_size + 1);
}
KeyRef window_key(const AttentionKeys& keys, int64_t pos) {
  return {keys.window.row(pos - keys.window_start)};
}
int64_t entry_count(const AttentionKeys& keys) {
  return keys.compressed.rows;
}
KeyRef entry_key(const AttentionKeys& keys, int64_t s) {
  return {keys.compressed.row(s)};
}

int64_t window_first(const StoredKeys& keys, int64_t p) {
  return std::max<int64_t>(0, p - keys.window_size + 1);
}
KeyRef window_key(const StoredKeys& keys, int64_t pos) {
  if (pos >= keys.start) return {keys.chunk.row(pos - keys.start)};
  return {nullptr, &keys.ring->codec(), keys.ring->data(pos), keys.ring->scales(pos)};
}
int64_t entry_count(const StoredKeys& keys) {
  return keys.entries->count();
}
KeyRef entry_key(const StoredKeys& keys, int64_t s) {
  const PagedRows& e = *keys.entries;
  return {nullptr, &e.codec(), e.data(s), e.scales(s)};
}

int64_t visible_count(const auto& keys, int64_t p) {
  return visible_entries(p, keys.ratio, entry_count(keys));
}

// Calls visit(key) for every key query t at position p may see, in the kernel's order.
template <typename Keys, typename Visit>
void for_each_key(const Keys& keys, int64_t t, int64_t p, Visit&& visit) {
  for (int64_t pos = window_first(keys, p); pos <= p; ++pos) visit(window_key(keys, pos));
  if (keys.ratio == 0) return;
  if (keys.picks.rows > 0) {
    for (int64_t i = 0; i < keys.picks.cols; ++i) {
      const int32_t s = keys.picks(t, i);
      if (s >= 0) visit(entry_key(keys, s));
    }
    return;
  }
  for (int64_t s = 0; s < visible_count(keys, p); ++s) visit(entry_key(keys, s));
}

constexpr int64_t kMaxHeads = 1024;
// Keys are folded into the running softmax a tile of 8 at a time: one rescale per tile, the tile's scores
// and weighted sums computed side by side. Tiles are fixed by where keys come from, not by the query:
// window positions [8k, 8k + 8), entries [8k, 8k + 8), picks 8 at a time, each lane a query cannot see
// masked. So the rows of a group share each decoded tile, and a row's bits do not depend on its group.
constexpr int kKeyTile = 8;
constexpr int64_t kMaxGroupRows = 16;

// The lanes of a tile that a query sees: bit l of `mask` → lane l all ones.
__m256 present_lanes(unsigned mask) {
  const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  return _mm256_castsi256_ps(
      _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(static_cast<int>(mask)), bit), bit));
}

// The running softmax of one query's head.
struct RunningHead {
  float max, sum;
  float* acc;  // d floats: Σ weight·key so far, in units of exp(· − max)

  // Folds the present lanes of a tile in (every key pointer valid: the others are read, weighted 0).
  void fold(const float* q, const float* const* key, __m256 present, int64_t d, float scale) {
    const __m256 scores = _mm256_blendv_ps(_mm256_set1_ps(-std::numeric_limits<float>::infinity()),
                                           _mm256_mul_ps(dots8(q, key, d), _mm256_set1_ps(scale)), present);
    __m256 top = _mm256_max_ps(scores, _mm256_permute2f128_ps(scores, scores, 1));
    top = _mm256_max_ps(top, _mm256_permute_ps(top, 0b01001110));
    top = _mm256_max_ps(top, _mm256_permute_ps(top, 0b10110001));
    const float m = _mm256_cvtss_f32(top);
    if (m > max) {
      const float shrink = std::exp(max - m);
      sum *= shrink;
      for (int64_t i = 0; i < d; ++i) acc[i] *= shrink;
      max = m;
    }
    const __m256 weights = exp8(_mm256_sub_ps(scores, _mm256_set1_ps(max)));
    sum += horizontal_sum(weights);
    alignas(32) float w[kKeyTile];
    _mm256_store_ps(w, weights);
    weighted_sum<kKeyTile>(w, key, acc, d);
  }
};

// One decoded tile: lane l holds key(first + l) where wanted(first + l), and another lane's key elsewhere.
struct Tile {
  alignas(32) float scratch[kKeyTile][kMaxKeyDim];
  const float* key[kKeyTile];

  template <typename Key, typename Wanted>
  bool load(int64_t first, Key&& key_at, Wanted&& wanted) {
    int any = -1;
    for (int l = 0; l < kKeyTile; ++l) {
      key[l] = nullptr;
      if (!wanted(first + l)) continue;
      key[l] = key_at(first + l).resolve(scratch[l]);
      any = l;
    }
    if (any < 0) return false;
    for (int l = 0; l < kKeyTile; ++l)
      if (key[l] == nullptr) key[l] = key[any];
    return true;
  }
};

}  // namespace

template <typename Keys>
void attention_rows(MatrixView<const float> q, int64_t heads, const Keys& keys, const int64_t* positions,
                    const float* sinks, float scale, MatrixView<float> out, int64_t t_begin, int64_t t_end,
                    int64_t h_begin, int64_t h_end) {
  const int64_t d = q.cols / heads, nh = h_end - h_begin;
  const int64_t group = std::clamp<int64_t>(kMaxHeads / std::max<int64_t>(nh, 1), 1, kMaxGroupRows);
  RunningHead run[kMaxHeads];
  Tile tile;
  for (int64_t g0 = t_begin; g0 < t_end; g0 += group) {
    const int64_t g1 = std::min(t_end, g0 + group);
    int64_t lo = std::numeric_limits<int64_t>::max(), hi = -1, most = 0;
    for (int64_t t = g0; t < g1; ++t) {
      for (int64_t h = h_begin; h < h_end; ++h) {
        // The sink starts the running softmax: exp(sink − max) = 1.
        RunningHead& r = run[(t - g0) * nh + h - h_begin];
        r = {sinks[h], 1.0f, out.row(t) + h * d};
        std::fill(r.acc, r.acc + d, 0.0f);
      }
      lo = std::min(lo, window_first(keys, positions[t]));
      hi = std::max(hi, positions[t]);
      if (keys.ratio > 0) most = std::max(most, visible_count(keys, positions[t]));
    }
    // Folds the tile into row t's heads, the lanes whose index `first + l` satisfies sees(l).
    auto fold_row = [&](int64_t t, int64_t first, auto&& sees) {
      unsigned mask = 0;
      for (int l = 0; l < kKeyTile; ++l) mask |= sees(first + l) ? 1u << l : 0u;
      if (mask == 0) return;
      const __m256 present = present_lanes(mask);
      for (int64_t h = h_begin; h < h_end; ++h) {
        run[(t - g0) * nh + h - h_begin].fold(q.row(t) + h * d, tile.key, present, d, scale);
      }
    };
    auto window_at = [&](int64_t pos) { return window_key(keys, pos); };
    for (int64_t base = lo - lo % kKeyTile; base <= hi; base += kKeyTile) {
      if (!tile.load(base, window_at, [&](int64_t pos) { return pos >= lo && pos <= hi; })) continue;
      for (int64_t t = g0; t < g1; ++t) {
        const int64_t first = window_first(keys, positions[t]), p = positions[t];
        fold_row(t, base, [&](int64_t pos) { return pos >= first && pos <= p; });
      }
    }
    auto entry_at = [&](int64_t s) { return entry_key(keys, s); };
    if (keys.ratio > 0 && keys.picks.rows > 0) {
      for (int64_t t = g0; t < g1; ++t) {
        const int32_t* picks = keys.picks.row(t);
        auto picked = [&](int64_t i) { return i < keys.picks.cols && picks[i] >= 0; };
        for (int64_t i0 = 0; i0 < keys.picks.cols; i0 += kKeyTile) {
          if (!tile.load(i0, [&](int64_t i) { return entry_at(picks[i]); }, picked)) continue;
          fold_row(t, i0, picked);
        }
      }
    } else if (keys.ratio > 0) {
      for (int64_t base = 0; base < most; base += kKeyTile) {
        tile.load(base, entry_at, [&](int64_t s) { return s < most; });
        for (int64_t t = g0; t < g1; ++t) {
          const int64_t visible = visible_count(keys, positions[t]);
          fold_row(t, base, [&](int64_t s) { return s < visible; });
        }
      }
    }
    for (int64_t i = 0; i < (g1 - g0) * nh; ++i) {
      const float inv = 1.0f / run[i].sum;
      for (int64_t c = 0; c < d; ++c) run[i].acc[c] *= inv;
    }
  }
}

template void attention_rows<AttentionKeys>(MatrixView<const float>, int64_t, const AttentionKeys&,
                                            const int64_t*, const float*, float, MatrixView<float>, int64_t,
                                            int64_t, int64_t, int64_t);
template void attention_rows<StoredKeys>(MatrixView<const float>, int64_t, const StoredKeys&, const int64_t*,
                                         const float*, float, MatrixView<float>, int64_t, int64_t, int64_t,
                                         int64_t);

void attention_reference(MatrixView<const float> q, int64_t heads, const AttentionKeys& keys,
                         const int64_t* positions, const float* sinks, float scale, MatrixView<float> out) {
  const int64_t d = q.cols / heads;
  for (int64_t t = 0; t < q.rows; ++t) {
    std::vector<const float*> rows;
    for_each_key(keys, t, positions[t], [&](const KeyRef& key) { rows.push_back(key.row); });
    for (int64_t h = 0; h < heads; ++h) {
      std::vector<double> s(rows.size());
      double m = sinks[h];
      for (size_t i = 0; i < rows.size(); ++i) {
        double v = 0;
        for (int64_t c = 0; c < d; ++c) v += double(q(t, h * d + c)) * rows[i][c];
        s[i] = v * scale;
        m = std::max(m, s[i]);
      }
      double den = std::exp(double(sinks[h]) - m);
      for (double& v : s) den += (v = std::exp(v - m));
      for (int64_t c = 0; c < d; ++c) {
        double acc = 0;
        for (size_t i = 0; i < rows.size(); ++i) acc += s[i] * rows[i][c];
        out(t, h * d + c) = static_cast<float>(acc / den);
      }
    }
  }
}

}  // namespace baleen::cpu
