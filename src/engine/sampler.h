// Picks the next token from a row of logits: greedy (temperature 0) or sampled from the softmax at a
// temperature, restricted by top-k, min-p (relative to the most likely token) and top-p, in that order,
// with a seeded RNG so a run is reproducible. Not thread-safe (one sampler per session).
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace baleen {

struct SamplingParams {
  float temperature = 0.0f;  // 0: greedy argmax
  int64_t top_k = 0;         // 0: off
  float top_p = 1.0f;        // 1: off
  float min_p = 0.0f;        // 0: off
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(SamplingParams params);  // throws Error on an out-of-range parameter
  int32_t sample(std::span<const float> logits);

 private:
  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> candidates_;
};

int32_t argmax(std::span<const float> logits);

}  // namespace baleen
