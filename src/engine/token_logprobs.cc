#include "engine/token_logprobs.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.h"

namespace baleen {

TokenLogprob token_logprob(std::span<const float> logits, int32_t token, int64_t top) {
  check(!logits.empty() && token >= 0 && static_cast<size_t>(token) < logits.size(),
        "token {} is outside a logits row of {}", token, logits.size());
  check(top >= 0 && static_cast<size_t>(top) <= logits.size(), "top_logprobs {} outside [0, {}]", top,
        logits.size());
  const double max = *std::max_element(logits.begin(), logits.end());
  check(std::isfinite(max), "a logits row has no finite maximum");
  double sum = 0;
  for (const float x : logits) sum += std::exp(static_cast<double>(x) - max);
  const double log_z = max + std::log(sum);
  const auto lp = [&](size_t i) { return static_cast<double>(logits[i]) - log_z; };
  TokenLogprob out{token, lp(static_cast<size_t>(token)), {}};
  if (top == 0) return out;
  std::vector<int32_t> ids(logits.size());
  std::iota(ids.begin(), ids.end(), 0);
  const auto better = [&](int32_t a, int32_t b) {
    return logits[static_cast<size_t>(a)] > logits[static_cast<size_t>(b)] ||
           (logits[static_cast<size_t>(a)] == logits[static_cast<size_t>(b)] && a < b);
  };
  std::partial_sort(ids.begin(), ids.begin() + top, ids.end(), better);
  for (int64_t i = 0; i < top; ++i) out.top.emplace_back(ids[i], lp(static_cast<size_t>(ids[i])));
  return out;
}

}  // namespace baleen
