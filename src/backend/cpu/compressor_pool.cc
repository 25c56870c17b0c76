#include "backend/cpu/compressor_pool.h"

#include <cmath>
#include <limits>

namespace baleen::cpu {

void compressor_pool_entries(MatrixView<const float> kv, MatrixView<const float> gate, int64_t slots,
                             MatrixView<float> entries, int64_t begin, int64_t end) {
  const int64_t d = entries.cols;
  for (int64_t e = begin; e < end; ++e) {
    float* out = entries.row(e);
    for (int64_t c = 0; c < d; ++c) {
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < slots; ++j) m = std::max(m, gate(e * slots + j, c));
      float sum = 0, acc = 0;
      for (int64_t j = 0; j < slots; ++j) {
        const float g = gate(e * slots + j, c);
        if (g == -std::numeric_limits<float>::infinity()) continue;
        const float w = std::exp(g - m);
        sum += w;
        acc += w * kv(e * slots + j, c);
      }
      out[c] = acc / sum;
    }
  }
}

void compressor_pool_reference(MatrixView<const float> kv, MatrixView<const float> gate, int64_t slots,
                               MatrixView<float> entries) {
  for (int64_t e = 0; e < entries.rows; ++e) {
    for (int64_t c = 0; c < entries.cols; ++c) {
      double m = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < slots; ++j) m = std::max<double>(m, gate(e * slots + j, c));
      double sum = 0, acc = 0;
      for (int64_t j = 0; j < slots; ++j) {
        const double w = std::exp(double(gate(e * slots + j, c)) - m);
        sum += w;
        acc += w * kv(e * slots + j, c);
      }
      entries(e, c) = static_cast<float>(acc / sum);
    }
  }
}

}  // namespace baleen::cpu
