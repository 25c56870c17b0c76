// Generation (DESIGN.md "engine"): a Sequence is one session being extended — the tokens still to feed
// (a prompt's tail, then each sampled token), its sampler and stop conditions; a Generator advances many
// sequences by one batched forward per step: each gets its next prefill chunk or its decode token, and
// every sequence whose prompt is done samples its next token. A step may be held to a token budget: every
// decode token goes in, prefill chunks take what is left in order. The CLI, the agent and the server all
// generate through it. A sequence borrows its session state; not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <span>
#include <vector>

#include "engine/model.h"
#include "engine/sampler.h"
#include "engine/session_state.h"
#include "engine/token_logprobs.h"

namespace baleen {

struct StopConditions {
  int64_t max_tokens = 256;       // tokens sampled at most
  std::vector<int32_t> stop_ids;  // a sampled stop id ends the sequence (counted, never fed)
};

enum class SequenceEnd { kRunning, kStopId, kLength, kCancelled };

class Sequence {
 public:
  // `pending`: tokens to append to `state` before the first sample (at least one).
  Sequence(SessionState& state, std::vector<int32_t> pending, SamplingParams sampling, StopConditions stop);

  SessionState& state() { return *state_; }
  bool finished() const { return end_ != SequenceEnd::kRunning; }
  SequenceEnd end() const { return end_; }
  void cancel() { end_ = SequenceEnd::kCancelled; }
  // Continues on `state`, which holds a prefix of what the sequence's tokens so far (its prompt, then the
  // sampled tokens fed back) make; `pending` is the rest of them, then the token still to feed: a sequence
  // whose state was dropped resumes as if it had not been. Sampler, sampled tokens and stop carry on.
  void rebase(SessionState& state, std::vector<int32_t> pending);
  // No prefill chunk crosses this state length, so the caller can save the state there; 0: none.
  void set_checkpoint(int64_t length) { checkpoint_ = length; }
  int64_t pending() const { return static_cast<int64_t>(pending_.size()); }  // tokens still to feed
  const std::vector<int32_t>& sampled() const { return sampled_; }
  // Called on each logits row before sampling (constraints, penalties); may edit it.
  std::function<void(std::span<float> logits, const Sequence& seq)> process_logits;
  // From now on each sampled token's logprob and its `top` alternatives (token_logprobs.h) are kept.
  void keep_logprobs(int64_t top) { logprob_top_ = top; }
  const std::vector<TokenLogprob>& logprobs() const { return logprobs_; }  // one per sampled token, if kept

 private:
  friend class Generator;
  SessionState* state_;
  std::vector<int32_t> pending_;
  Sampler sampler_;
  StopConditions stop_;
  std::vector<int32_t> sampled_;
  SequenceEnd end_ = SequenceEnd::kRunning;
  int64_t checkpoint_ = 0;
  int64_t logprob_top_ = -1;  // < 0: no logprobs kept
  std::vector<TokenLogprob> logprobs_;
};

class Generator {
 public:
  explicit Generator(Model& model, int64_t prefill_chunk = kPrefillChunk);

  // One step over the unfinished sequences; returns how many sampled a token. A sequence with one token to
  // feed always takes part; the others get prefill chunks, in order, while `token_budget` lasts (so with
  // many decoding sequences a prefill may wait a step). Chunking does not change any sequence's logits.
  int64_t step(std::span<Sequence* const> sequences,
               int64_t token_budget = std::numeric_limits<int64_t>::max());
  // Steps `sequence` until it finishes; on_token(token) after each sample.
  void run(Sequence& sequence, const std::function<void(int32_t)>& on_token = {});

 private:
  Model& model_;
  int64_t chunk_;
  std::vector<BatchSequence> batch_;
  std::vector<Sequence*> members_;  // batch_[i] feeds members_[i]
};

}  // namespace baleen
