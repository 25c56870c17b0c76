// OpenAI's presence and frequency penalties as a logits processor: over the tokens a sequence has sampled
// so far, logit[t] -= frequency * count(t) + presence * (count(t) > 0). Counts are kept incrementally (a
// sequence's sampled tokens only grow, also across a preemption). One per sequence; not thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>

namespace baleen {

struct Penalties {
  double presence = 0;   // OpenAI's presence_penalty, [-2, 2]
  double frequency = 0;  // OpenAI's frequency_penalty, [-2, 2]
  bool active() const { return presence != 0 || frequency != 0; }
};

class RepetitionPenalties {
 public:
  explicit RepetitionPenalties(Penalties penalties);  // throws Error outside [-2, 2]
  // `sampled`: every token the sequence sampled so far (a prefix of it was seen by earlier calls).
  void apply(std::span<float> logits, std::span<const int32_t> sampled);

 private:
  Penalties penalties_;
  std::unordered_map<int32_t, int64_t> counts_;
  size_t counted_ = 0;  // of `sampled`, the tokens already in counts_
};

}  // namespace baleen
