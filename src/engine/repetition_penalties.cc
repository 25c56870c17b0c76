#include "engine/repetition_penalties.h"

#include "core/error.h"

namespace baleen {

RepetitionPenalties::RepetitionPenalties(Penalties penalties) : penalties_(penalties) {
  check(penalties.presence >= -2 && penalties.presence <= 2, "presence_penalty must be in [-2, 2], got {}",
        penalties.presence);
  check(penalties.frequency >= -2 && penalties.frequency <= 2, "frequency_penalty must be in [-2, 2], got {}",
        penalties.frequency);
}

void RepetitionPenalties::apply(std::span<float> logits, std::span<const int32_t> sampled) {
  check(sampled.size() >= counted_, "the sampled tokens shrank ({} < {})", sampled.size(), counted_);
  for (; counted_ < sampled.size(); ++counted_) ++counts_[sampled[counted_]];
  for (const auto& [token, count] : counts_) {
    if (token < 0 || static_cast<size_t>(token) >= logits.size()) continue;
    logits[static_cast<size_t>(token)] -=
        static_cast<float>(penalties_.frequency * static_cast<double>(count) + penalties_.presence);
  }
}

}  // namespace baleen
