#include "backend/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/dot.h"

namespace baleen::cpu {
namespace {

// Calls visit(key_row) for every key query t at position p may see; `scratch` holds a decoded key.
template <typename Visit>
void for_each_key(const AttentionKeys& keys, int64_t t, int64_t p, float*, Visit&& visit) {
  const int64_t first = std::max(keys.window_start, p - keys.window_size + 1);
  for (int64_t pos = first; pos <= p; ++pos) visit(keys.window.row(pos - keys.window_start));
  if (keys.ratio == 0) return;
  if (keys.picks.rows > 0) {
    for (int64_t i = 0; i < keys.picks.cols; ++i) {
      const int32_t s = keys.picks(t, i);
      if (s >= 0) visit(keys.compressed.row(s));
    }
    return;
  }
  const int64_t visible = std::min(keys.compressed.rows, (p + 1) / keys.ratio);
  for (int64_t s = 0; s < visible; ++s) visit(keys.compressed.row(s));
}

template <typename Visit>
void for_each_key(const StoredKeys& keys, int64_t t, int64_t p, float* scratch, Visit&& visit) {
  const int64_t first = std::max<int64_t>(0, p - keys.window_size + 1);
  const KvCodec& wc = keys.ring->codec();
  for (int64_t pos = first; pos <= p; ++pos) {
    if (pos >= keys.start) {
      visit(keys.chunk.row(pos - keys.start));
    } else {
      visit(read_row(wc, keys.ring->data(pos), keys.ring->scales(pos), scratch));
    }
  }
  if (keys.ratio == 0) return;
  const PagedRows& e = *keys.entries;
  auto entry = [&](int64_t s) { return read_row(e.codec(), e.data(s), e.scales(s), scratch); };
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

}  // namespace

template <typename Keys>
void attention_rows(MatrixView<const float> q, int64_t heads, const Keys& keys, const int64_t* positions,
                    const float* sinks, float scale, MatrixView<float> out, int64_t t_begin, int64_t t_end,
                    int64_t h_begin, int64_t h_end) {
  const int64_t d = q.cols / heads;
  float run_max[kMaxHeads], run_sum[kMaxHeads], scratch[kMaxKeyDim];
  for (int64_t t = t_begin; t < t_end; ++t) {
    for (int64_t h = h_begin; h < h_end; ++h) {
      run_max[h] = sinks[h];  // the sink starts the running softmax: exp(sink − max) = 1
      run_sum[h] = 1.0f;
      std::fill(out.row(t) + h * d, out.row(t) + (h + 1) * d, 0.0f);
    }
    for_each_key(keys, t, positions[t], scratch, [&](const float* key) {
      for (int64_t h = h_begin; h < h_end; ++h) {
        const float s = dot(q.row(t) + h * d, key, d) * scale;
        float* acc = out.row(t) + h * d;
        if (s > run_max[h]) {
          const float shrink = std::exp(run_max[h] - s);
          run_sum[h] *= shrink;
          for (int64_t i = 0; i < d; ++i) acc[i] *= shrink;
          run_max[h] = s;
        }
        const float w = std::exp(s - run_max[h]);
        run_sum[h] += w;
        axpy(w, key, acc, d);
      }
    });
    for (int64_t h = h_begin; h < h_end; ++h) {
      const float inv = 1.0f / run_sum[h];
      float* acc = out.row(t) + h * d;
      for (int64_t i = 0; i < d; ++i) acc[i] *= inv;
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
    for_each_key(keys, t, positions[t], nullptr, [&](const float* key) { rows.push_back(key); });
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
