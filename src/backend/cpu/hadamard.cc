#include "backend/cpu/hadamard.h"

#include <bit>
#include <cmath>
#include <vector>

namespace baleen::cpu {

void hadamard_rows(MatrixView<float> x, int64_t begin, int64_t end) {
  const int64_t n = x.cols;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(n)));
  for (int64_t t = begin; t < end; ++t) {
    float* v = x.row(t);
    for (int64_t len = 1; len < n; len <<= 1) {
      for (int64_t i = 0; i < n; i += 2 * len) {
        for (int64_t j = i; j < i + len; ++j) {
          const float a = v[j], b = v[j + len];
          v[j] = a + b;
          v[j + len] = a - b;
        }
      }
    }
    for (int64_t i = 0; i < n; ++i) v[i] *= scale;
  }
}

void hadamard_reference(MatrixView<float> x) {
  const int64_t n = x.cols;
  std::vector<double> out(static_cast<size_t>(n));
  for (int64_t t = 0; t < x.rows; ++t) {
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t i = 0; i < n; ++i) {
        const int sign = std::popcount(static_cast<uint64_t>(i & j)) & 1;
        s += sign ? -double(x(t, i)) : double(x(t, i));
      }
      out[static_cast<size_t>(j)] = s / std::sqrt(static_cast<double>(n));
    }
    for (int64_t j = 0; j < n; ++j) x(t, j) = static_cast<float>(out[static_cast<size_t>(j)]);
  }
}

}  // namespace baleen::cpu
