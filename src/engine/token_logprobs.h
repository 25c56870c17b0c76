// Log-probabilities of a sampled token and of the most likely alternatives, from the logits row it was
// sampled from (after the logits processors: vocabulary mask, penalties, constraints; before temperature
// and top-k / top-p / min-p truncation): a float64 log-softmax over the row. What OpenAI's `logprobs` /
// `top_logprobs` report.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace baleen {

struct TokenLogprob {
  int32_t token = 0;
  double logprob = 0;
  std::vector<std::pair<int32_t, double>>
      top;  // the `top` most likely ids, most likely first (ties: lower id)
};

// `top` in [0, row size]; -inf entries (masked ids) have logprob -inf.
TokenLogprob token_logprob(std::span<const float> logits, int32_t token, int64_t top);

}  // namespace baleen
