#include "engine/rotary.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace baleen {
namespace {

double correction_dim(double rotations, int64_t dim, double base, double max_position) {
  return double(dim) * std::log(max_position / (rotations * 2 * std::numbers::pi)) / (2 * std::log(base));
}

}  // namespace

std::vector<float> rope_inv_freq(int64_t rope_dim, double base, const YarnScaling& yarn) {
  const int64_t pairs = rope_dim / 2;
  std::vector<float> freq(static_cast<size_t>(pairs));
  for (int64_t i = 0; i < pairs; ++i) {
    // torch: base ** (arange(0, dim, 2).float() / dim) in fp32, then 1 / that.
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(rope_dim);
    freq[static_cast<size_t>(i)] = 1.0f / static_cast<float>(std::pow(base, double(exponent)));
  }
  if (!yarn.enabled) return freq;
  const double max_pos = double(yarn.original_max_position);
  double low = std::floor(correction_dim(yarn.beta_fast, rope_dim, base, max_pos));
  double high = std::ceil(correction_dim(yarn.beta_slow, rope_dim, base, max_pos));
  low = std::max(low, 0.0);
  high = std::min(high, double(rope_dim - 1));
  if (low == high) high += 0.001;
  for (int64_t i = 0; i < pairs; ++i) {
    const float ramp = std::clamp(static_cast<float>((double(i) - low) / (high - low)), 0.0f, 1.0f);
    const float extrapolate = freq[static_cast<size_t>(i)];
    const float interpolate = extrapolate / static_cast<float>(yarn.factor);
    freq[static_cast<size_t>(i)] = interpolate * ramp + extrapolate * (1.0f - ramp);
  }
  return freq;
}

std::vector<float> main_inv_freq(const Config& config) {
  return rope_inv_freq(config.rope_head_dim, config.rope_theta, YarnScaling{});
}

std::vector<float> compress_inv_freq(const Config& config) {
  return rope_inv_freq(config.rope_head_dim, config.compress_rope_theta, config.yarn);
}

}  // namespace baleen
