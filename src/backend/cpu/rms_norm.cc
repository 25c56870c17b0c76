#include "backend/cpu/rms_norm.h"

#include <cmath>

#include "backend/cpu/dot.h"

namespace baleen::cpu {

void rms_norm_rows(MatrixView<const float> x, const float* weight, float eps, MatrixView<float> y,
                   int64_t begin, int64_t end) {
  const int64_t n = x.cols;
  for (int64_t t = begin; t < end; ++t) {
    const float* in = x.row(t);
    float* out = y.row(t);
    const float inv = 1.0f / std::sqrt(dot(in, in, n) / static_cast<float>(n) + eps);
    if (weight) {
      for (int64_t i = 0; i < n; ++i) out[i] = weight[i] * (in[i] * inv);
    } else {
      for (int64_t i = 0; i < n; ++i) out[i] = in[i] * inv;
    }
  }
}

void rms_norm_reference(MatrixView<const float> x, const float* weight, float eps, MatrixView<float> y) {
  for (int64_t t = 0; t < x.rows; ++t) {
    double ss = 0;
    for (int64_t i = 0; i < x.cols; ++i) ss += double(x(t, i)) * x(t, i);
    const double inv = 1.0 / std::sqrt(ss / double(x.cols) + eps);
    for (int64_t i = 0; i < x.cols; ++i)
      y(t, i) = static_cast<float>(x(t, i) * inv * (weight ? weight[i] : 1.0));
  }
}

}  // namespace baleen::cpu
