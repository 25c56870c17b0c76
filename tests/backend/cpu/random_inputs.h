// Fresh random inputs from a fixed seed and the error measures the kernel tests compare with.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "core/tensor.h"

namespace baleen::test {

inline Tensor random_tensor(std::vector<int64_t> shape, std::mt19937& rng, float stddev = 1.0f) {
  Tensor t(std::move(shape));
  std::normal_distribution<float> dist(0.0f, stddev);
  for (float& v : t.values()) v = dist(rng);
  return t;
}

// ‖a − b‖ / ‖b‖ over n values.
inline double relative_l2(const float* a, const float* b, int64_t n) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num / std::max(den, 1e-300));
}

inline double relative_l2(const Tensor& a, const Tensor& b) {
  return relative_l2(a.data(), b.data(), b.size());
}

}  // namespace baleen::test
