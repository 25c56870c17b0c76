#include "engine/sampler.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace baleen {

int32_t argmax(std::span<const float> logits) {
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

Sampler::Sampler(SamplingParams params) : params_(params), rng_(params.seed) {
  check(params.temperature >= 0, "temperature must be >= 0, got {}", params.temperature);
  check(params.top_k >= 0, "top_k must be >= 0, got {}", params.top_k);
  check(params.top_p > 0 && params.top_p <= 1, "top_p must be in (0, 1], got {}", params.top_p);
  check(params.min_p >= 0 && params.min_p <= 1, "min_p must be in [0, 1], got {}", params.min_p);
}

int32_t Sampler::sample(std::span<const float> logits) {
  if (params_.temperature == 0.0f) return argmax(logits);
  // Candidates sorted by logit, most likely first; probabilities from the tempered softmax.
  candidates_.clear();
  for (size_t i = 0; i < logits.size(); ++i) candidates_.emplace_back(logits[i], static_cast<int32_t>(i));
  std::sort(candidates_.begin(), candidates_.end(), [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  });
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < candidates_.size()) {
    candidates_.resize(static_cast<size_t>(params_.top_k));
  }
  const float top = candidates_.front().first;
  double sum = 0;
  for (auto& [value, id] : candidates_) sum += (value = std::exp((value - top) / params_.temperature));
  size_t keep = candidates_.size();
  double kept_mass = 0;
  for (size_t i = 0; i < candidates_.size(); ++i) {
    const double p = candidates_[i].first / sum;
    if (i > 0 && p < params_.min_p * (candidates_[0].first / sum)) {  // min-p: relative to the best token
      keep = i;
      break;
    }
    kept_mass += p;
    if (kept_mass >= params_.top_p) {  // top-p: the smallest prefix reaching the mass
      keep = i + 1;
      break;
    }
  }
  double mass = 0;
  for (size_t i = 0; i < keep; ++i) mass += candidates_[i].first;
  double u = std::uniform_real_distribution<double>(0.0, mass)(rng_);
  for (size_t i = 0; i < keep; ++i) {
    u -= candidates_[i].first;
    if (u < 0) return candidates_[i].second;
  }
  return candidates_[keep - 1].second;
}

}  // namespace baleen
