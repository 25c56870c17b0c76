// Test support: random weights in each stored dtype the CPU matmul reads, with the fp32 copy that
// Checkpoint::load_f32 makes of them (model/checkpoint.h dequantize_fp8 / dequantize_fp4).
#pragma once

#include <cstring>
#include <random>
#include <vector>

#include "backend/backend.h"
#include "core/dtype.h"
#include "model/checkpoint.h"

namespace baleen::test {

struct StoredWeight {
  std::vector<uint8_t> data, scales;
  WeightView view;
  Tensor f32;  // what load_f32 gives: value × scale in fp32

  // Must not be copied: view points into data / scales.
  StoredWeight() = default;
  StoredWeight(const StoredWeight&) = delete;
  StoredWeight& operator=(const StoredWeight&) = delete;
};

// How a weight's scales are drawn: ue8m0 exponents in [lo, hi] (2^(e−127)), or f32 in [lo, hi]·2^−10.
struct ScaleDraw {
  DType dtype = DType::kUE8M0;
  int lo = 117, hi = 130;
};

inline void fill_scales(StoredWeight& w, int64_t n, const ScaleDraw& draw, std::mt19937& rng) {
  std::uniform_int_distribution<int> exponent(draw.lo, draw.hi);
  std::uniform_real_distribution<float> multiplier(float(draw.lo), float(draw.hi));
  if (draw.dtype == DType::kUE8M0) {
    w.scales.resize(static_cast<size_t>(n));
    for (auto& s : w.scales) s = static_cast<uint8_t>(exponent(rng));
  } else {
    w.scales.resize(static_cast<size_t>(4 * n));
    for (int64_t i = 0; i < n; ++i) {
      const float s = multiplier(rng) * 0x1p-10f;  // not a power of two: code × scale rounds
      std::memcpy(w.scales.data() + 4 * i, &s, 4);
    }
  }
}

inline TensorInfo scale_info(const StoredWeight& w, const ScaleDraw& draw) {
  return {"scale", draw.dtype, {}, w.scales.data(), w.scales.size()};
}

// FP8 e4m3 codes drawn uniformly over every non-NaN byte (subnormals and ±0 included) whose magnitude
// bits are at most max_magnitude.
inline void make_fp8(StoredWeight& w, int64_t rows, int64_t cols, int64_t block_rows, int64_t block_cols,
                     const ScaleDraw& draw, std::mt19937& rng, uint8_t max_magnitude = 0x7E) {
  std::uniform_int_distribution<int> byte(0, 255);
  w.data.resize(static_cast<size_t>(rows * cols));
  for (auto& b : w.data) {
    do b = static_cast<uint8_t>(byte(rng));
    while ((b & 0x7F) > max_magnitude);
  }
  const int64_t scale_rows = (rows + block_rows - 1) / block_rows,
                scale_cols = (cols + block_cols - 1) / block_cols;
  fill_scales(w, scale_rows * scale_cols, draw, rng);
  w.view = {DType::kF8E4M3, w.data.data(), rows, cols, w.scales.data(), draw.dtype, block_rows, block_cols};
  w.f32 = Tensor({rows, cols});
  dequantize_fp8(w.data.data(), scale_info(w, draw), rows, cols, block_rows, block_cols, w.f32.data());
}

// FP4 e2m1 pairs, every byte value, one scale per 32 inputs of a row (partial at the row's end).
inline void make_fp4(StoredWeight& w, int64_t rows, int64_t cols, const ScaleDraw& draw, std::mt19937& rng) {
  std::uniform_int_distribution<int> byte(0, 255);
  w.data.resize(static_cast<size_t>(rows * cols / 2));
  for (auto& b : w.data) b = static_cast<uint8_t>(byte(rng));
  const int64_t scale_cols = (cols + 31) / 32;
  fill_scales(w, rows * scale_cols, draw, rng);
  w.view = {DType::kF4E2M1x2, w.data.data(), rows, cols, w.scales.data(), draw.dtype, 1, 32};
  w.f32 = Tensor({rows, cols});
  dequantize_fp4(w.data.data(), scale_info(w, draw), rows, cols, 32, w.f32.data());
}

inline void make_bf16(StoredWeight& w, int64_t rows, int64_t cols, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  w.data.resize(static_cast<size_t>(2 * rows * cols));
  w.f32 = Tensor({rows, cols});
  for (int64_t i = 0; i < rows * cols; ++i) {
    const uint16_t b = f32_to_bf16(normal(rng));
    std::memcpy(w.data.data() + 2 * i, &b, 2);
    w.f32.data()[i] = bf16_to_f32(b);
  }
  w.view = {DType::kBF16, w.data.data(), rows, cols};
}

}  // namespace baleen::test
