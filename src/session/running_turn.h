// One assistant turn being generated (render and tokenize come before it): its prompt started from the
// prefix cache's longest prefix, the Sequence a Generator steps, and the output side — detokenizing,
// parsing reasoning / content / DSML tool calls as they stream, stop sequences. After each Generator step
// that held its sequence, after_step() saves the states worth keeping (a shared resume boundary, the end of
// the prompt) and parses the sampled token; finish() gives the result and keeps the final state in the
// cache. Used alike by the TurnRunner (one turn at a time) and the Scheduler (many per step). Runs on the
// thread that runs the model; not movable (the sequence points into it).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "chat/output_parser.h"
#include "engine/generator.h"
#include "session/prefix_cache.h"
#include "session/stop_sequences.h"
#include "session/tool_call_constraint.h"
#include "session/turn_runner.h"
#include "tokenizer/stream_detokenizer.h"

namespace baleen::session {

class RunningTurn {
 public:
  // `prompt`: at least one token; options.max_tokens > 0. Parse events go to `on_event` (may be empty),
  // not to options.on_event. Throws Error on invalid sampling options.
  RunningTurn(PrefixCache& cache, const tokenizer::Tokenizer& tokenizer, std::vector<int32_t> prompt,
              const TurnOptions& options, std::function<void(const chat::ParseEvent&)> on_event);
  ~RunningTurn();
  RunningTurn(const RunningTurn&) = delete;
  RunningTurn& operator=(const RunningTurn&) = delete;

  Sequence& sequence() { return *sequence_; }
  int64_t prompt_tokens() const { return static_cast<int64_t>(prompt_.size()); }
  int64_t reused_tokens() const { return result_.reused_tokens; }
  // Nothing more to generate: an end-of-sentence or stop id, max_tokens, or a stop sequence in the content.
  bool done() const;
  // After a step: keeps a reached checkpoint or the prompt's end in the cache and parses a sampled token.
  // Returns whether the step sampled one.
  bool after_step();
  // Before the first step: the state holding all of the prompt but its last token is kept in the cache
  // too, so other choices of the same prompt start there. False when there is nothing to prefill for it.
  bool keep_before_last();
  // keep_before_last() was asked and the state is not kept yet.
  bool keeping_before_last() const { return before_last_ > 0; }
  // Once done(): the parsed turn; the state goes to the cache as a conversation end.
  TurnResult finish();
  // The turn ends early (cancelled): the state goes to the cache as a conversation end.
  void abandon() { keep_state(); }
  // Preemption: park() gives the state to the cache (which may evict it); resume() continues from the
  // deepest cached prefix of the prompt and the tokens sampled so far, re-feeding the rest, so the turn
  // samples what it would have sampled without the pause.
  void park() { keep_state(); }
  void resume();

 private:
  class EventSink;
  void keep_state();
  void aim();
  void parse(const std::string& piece);
  void trim_logprobs();

  PrefixCache& cache_;
  const tokenizer::Tokenizer& tokenizer_;
  TurnOptions options_;
  std::vector<int32_t> prompt_;
  std::vector<int32_t>
      path_;                  // what the state holds once its pending tokens are fed: the checkpoints' tokens
  PrefixCache::Start start_;  // the state and the boundaries to keep
  size_t next_checkpoint_ = 0;  // of start_.checkpoints, the next to reach
  int64_t before_last_ = 0;     // keep_before_last()'s length, until it is kept; 0: none
  std::unique_ptr<Sequence> sequence_;
  uint32_t eos_;
  tokenizer::StreamDetokenizer detok_;
  chat::OutputParser parser_;
  TurnResult result_;
  std::unique_ptr<EventSink> sink_;
  std::unique_ptr<ToolCallConstraint> forced_call_;  // a forced tool call, or null
  bool kept_ = false;  // the state went to the cache
};

}  // namespace baleen::session
