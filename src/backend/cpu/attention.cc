#include "backend/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "backend/cpu/dot.h"
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

// Calls visit(key) for every key query t at position p may see.
template <typename Visit>
void for_each_key(const AttentionKeys& keys, int64_t t, int64_t p, Visit&& visit) {
  const int64_t first = std::max(keys.window_start, p - keys.window_size + 1);
  for (int64_t pos = first; pos <= p; ++pos) visit(KeyRef{keys.window.row(pos - keys.window_start)});
  if (keys.ratio == 0) return;
  if (keys.picks.rows > 0) {
    for (int64_t i = 0; i < keys.picks.cols; ++i) {
      const int32_t s = keys.picks(t, i);
      if (s >= 0) visit(KeyRef{keys.compressed.row(s)});
    }
    return;
  }
  const int64_t visible = std::min(keys.compressed.rows, (p + 1) / keys.ratio);
  for (int64_t s = 0; s < visible; ++s) visit(KeyRef{keys.compressed.row(s)});
}

template <typename Visit>
void for_each_key(const StoredKeys& keys, int64_t t, int64_t p, Visit&& visit) {
  const int64_t first = std::max<int64_t>(0, p - keys.window_size + 1);
  const KvCodec& wc = keys.ring->codec();
  for (int64_t pos = first; pos <= p; ++pos) {
    if (pos >= keys.start) {
      visit(KeyRef{keys.chunk.row(pos - keys.start)});
    } else {
      visit(KeyRef{nullptr, &wc, keys.ring->data(pos), keys.ring->scales(pos)});
    }
  }
  if (keys.ratio == 0) return;
  const PagedRows& e = *keys.entries;
  auto entry = [&](int64_t s) { return KeyRef{nullptr, &e.codec(), e.data(s), e.scales(s)}; };
  if (keys.picks.rows > 0) {
    for (int64_t i = 0; i < keys.picks.cols; ++i) {
      const int32_t s = keys.picks(t, i);
      if (s >= 0) visit(entry(s));
    }
    return;
  }
  const int64_t visible = std::min(e.count(), (p + 1) / keys.ratio);
  for (int64_t s = 0; s < visible; ++s) visit(entry(s));
}

constexpr int64_t kMaxHeads = 1024;
// Keys folded into the running softmax together: one rescale per tile, and the tile's scores and
// weighted sums computed side by side (a key decoded once serves every head).
constexpr int kKeyTile = 8;

// The running softmax of one query's head over the next n ≤ kKeyTile keys (all kKeyTile pointers valid).
struct RunningHead {
  float max, sum;
  float* acc;  // d floats: Σ weight·key so far, in units of exp(· − max)

  void fold(const float* q, const float* const* key, int n, int64_t d, float scale) {
    alignas(32) float w[kKeyTile];
    // The missing keys of a last, partial tile score −∞: weight 0.
    const __m256 present =
        _mm256_cmp_ps(_mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_ps(float(n)), _CMP_LT_OQ);
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
    _mm256_store_ps(w, weights);
    weighted_sum<kKeyTile>(w, key, acc, d);
  }
};

}  // namespace

template <typename Keys>
void attention_rows(MatrixView<const float> q, int64_t heads, const Keys& keys, const int64_t* positions,
                    const float* sinks, float scale, MatrixView<float> out, int64_t t_begin, int64_t t_end,
                    int64_t h_begin, int64_t h_end) {
  const int64_t d = q.cols / heads;
  RunningHead run[kMaxHeads];
  alignas(32) float scratch[kKeyTile][kMaxKeyDim];
  const float* tile[kKeyTile];
  for (int64_t t = t_begin; t < t_end; ++t) {
    for (int64_t h = h_begin; h < h_end; ++h) {
      // The sink starts the running softmax: exp(sink − max) = 1.
      run[h] = {sinks[h], 1.0f, out.row(t) + h * d};
      std::fill(run[h].acc, run[h].acc + d, 0.0f);
    }
    int n = 0;
    auto fold = [&] {
      for (int64_t h = h_begin; h < h_end; ++h) run[h].fold(q.row(t) + h * d, tile, n, d, scale);
      n = 0;
    };
    for_each_key(keys, t, positions[t], [&](const KeyRef& key) {
      tile[n] = key.resolve(scratch[n]);
      if (++n == kKeyTile) fold();
    });
    if (n > 0) {
      std::fill(tile + n, tile + kKeyTile, tile[0]);  // read, weighted 0
      fold();
    }
    for (int64_t h = h_begin; h < h_end; ++h) {
      const float inv = 1.0f / run[h].sum;
      for (int64_t i = 0; i < d; ++i) run[h].acc[i] *= inv;
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
