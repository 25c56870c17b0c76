#include "backend/cpu/rope.h"

#include <cmath>

namespace baleen::cpu {
namespace {

constexpr int64_t kMaxPairs = 256;

float angle(const RopeFrequencies& f, int64_t i, int64_t position) {
  return f.inv_freq[i] * static_cast<float>(position);  // fp32 product, as transformers forms it
}

}  // namespace

void rope_rows(MatrixView<float> x, int64_t head_dim, const int64_t* positions, const RopeFrequencies& f,
               bool inverse, int64_t begin, int64_t end) {
  const int64_t pairs = f.rope_dim / 2, heads = x.cols / head_dim;
  float cs[kMaxPairs], sn[kMaxPairs];
  for (int64_t t = begin; t < end; ++t) {
    for (int64_t i = 0; i < pairs; ++i) {
      const double a = angle(f, i, positions[t]);
      cs[i] = static_cast<float>(std::cos(a));
      sn[i] = static_cast<float>(inverse ? -std::sin(a) : std::sin(a));
    }
    for (int64_t h = 0; h < heads; ++h) {
      float* r = x.row(t) + h * head_dim + head_dim - f.rope_dim;
      for (int64_t i = 0; i < pairs; ++i) {
        const float a = r[2 * i], b = r[2 * i + 1];
        r[2 * i] = a * cs[i] - b * sn[i];
        r[2 * i + 1] = b * cs[i] + a * sn[i];
      }
    }
  }
}

void rope_reference(MatrixView<float> x, int64_t head_dim, const int64_t* positions, const RopeFrequencies& f,
                    bool inverse) {
  for (int64_t t = 0; t < x.rows; ++t) {
    for (int64_t h = 0; h < x.cols / head_dim; ++h) {
      float* r = x.row(t) + h * head_dim + head_dim - f.rope_dim;
      for (int64_t i = 0; i < f.rope_dim / 2; ++i) {
        const double a = angle(f, i, positions[t]);
        const double c = std::cos(a), s = inverse ? -std::sin(a) : std::sin(a);
        const double u = r[2 * i], v = r[2 * i + 1];
        r[2 * i] = static_cast<float>(u * c - v * s);
        r[2 * i + 1] = static_cast<float>(v * c + u * s);
      }
    }
  }
}

}  // namespace baleen::cpu
