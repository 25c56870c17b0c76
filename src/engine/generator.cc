#include "engine/generator.h"

#include <algorithm>

#include "core/error.h"

namespace baleen {

Sequence::Sequence(SessionState& state, std::vector<int32_t> pending, SamplingParams sampling, StopConditions stop)
    : state_(&state), pending_(std::move(pending)), sampler_(sampling), stop_(std::move(stop)) {
  check(!pending_.empty(), "a sequence needs at least one token to feed");
  check(stop_.max_tokens > 0, "max_tokens must be > 0, got {}", stop_.max_tokens);
}

void Sequence::rebase(SessionState& state, std::vector<int32_t> pending) {
  check(!pending.empty(), "a resumed sequence needs at least one token to feed");
  state_ = &state;
  pending_ = std::move(pending);
  checkpoint_ = 0;
}

Generator::Generator(Model& model, int64_t prefill_chunk) : model_(model), chunk_(prefill_chunk) {
  check(chunk_ > 0, "prefill chunk must be positive, got {}", chunk_);
}

int64_t Generator::step(std::span<Sequence* const> sequences, int64_t token_budget) {
  batch_.clear();
  members_.clear();
  int64_t left = token_budget;
  for (const Sequence* s : sequences)
    if (!s->finished() && s->pending() == 1) --left;
  for (Sequence* s : sequences) {
    if (s->finished()) continue;
    int64_t n = 1;
    if (s->pending() > 1) {
      n = std::min({chunk_, s->pending(), std::max<int64_t>(left, 0)});
      const int64_t length = s->state_->length();
      if (s->checkpoint_ > length) n = std::min(n, s->checkpoint_ - length);
      if (n == 0) continue;
      left -= n;
    }
    const bool last = n == s->pending();
    batch_.push_back({s->state_, std::span(s->pending_).first(static_cast<size_t>(n)),
                      last ? LogitRows::kLast : LogitRows::kNone});
    members_.push_back(s);
  }
  if (batch_.empty()) return 0;
  Tensor logits = model_.forward(batch_);
  int64_t row = 0;
  for (size_t i = 0; i < batch_.size(); ++i) {
    Sequence& s = *members_[i];
    s.pending_.erase(s.pending_.begin(), s.pending_.begin() + static_cast<ptrdiff_t>(batch_[i].tokens.size()));
    if (batch_[i].logits != LogitRows::kLast) continue;
    std::span<float> r(logits.data() + row++ * logits.dim(1), static_cast<size_t>(logits.dim(1)));
    if (s.process_logits) s.process_logits(r, s);
    const int32_t token = s.sampler_.sample(r);
    if (s.logprob_top_ >= 0) s.logprobs_.push_back(token_logprob(r, token, s.logprob_top_));
    s.sampled_.push_back(token);
    if (std::find(s.stop_.stop_ids.begin(), s.stop_.stop_ids.end(), token) != s.stop_.stop_ids.end()) {
      s.end_ = SequenceEnd::kStopId;
    } else if (static_cast<int64_t>(s.sampled_.size()) >= s.stop_.max_tokens) {
      s.end_ = SequenceEnd::kLength;
    } else {
      s.pending_.push_back(token);
    }
  }
  return row;
}

void Generator::run(Sequence& sequence, const std::function<void(int32_t)>& on_token) {
  Sequence* one[] = {&sequence};
  while (!sequence.finished()) {
    const size_t before = sequence.sampled().size();
    step(one);
    if (on_token && sequence.sampled().size() > before) on_token(sequence.sampled().back());
  }
}

}  // namespace baleen
