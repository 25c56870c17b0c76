#include "session/running_turn.h"

#include <algorithm>
#include <limits>

#include "core/error.h"

namespace baleen::session {

// Folds parse events into the result and passes them on; content goes through the stop sequences first,
// and nothing after a match is kept.
class RunningTurn::EventSink {
 public:
  EventSink(TurnResult& result, const std::vector<std::string>& stop_sequences,
            std::function<void(const chat::ParseEvent&)> on_event)
      : result_(result), stops_(stop_sequences), on_event_(std::move(on_event)) {}

  void apply(std::vector<chat::ParseEvent> events) {
    for (chat::ParseEvent& event : events) {
      if (stopped()) return;
      if (event.kind == chat::ParseEvent::Kind::kContent) {
        event.text = stops_.feed(event.text);
        if (!event.text.empty()) pass(event);
      } else {
        release_held();
        pass(event);
      }
    }
  }
  // End of the turn: content held back for a possible stop sequence that never came.
  void finish() {
    if (!stopped()) release_held();
  }
  bool stopped() const { return stops_.matched().has_value(); }
  const std::string& matched() const { return *stops_.matched(); }

 private:
  void release_held() {
    chat::ParseEvent held;
    held.text = stops_.flush();  // kind: content
    if (!held.text.empty()) pass(held);
  }
  void pass(const chat::ParseEvent& event) {
    switch (event.kind) {
      case chat::ParseEvent::Kind::kReasoning:
        result_.reasoning += event.text;
        break;
      case chat::ParseEvent::Kind::kContent:
        result_.content += event.text;
        break;
      case chat::ParseEvent::Kind::kToolCall:
        result_.tool_calls.push_back(event.call);
        break;
      case chat::ParseEvent::Kind::kError:
        result_.errors.push_back(event.error);
        break;
    }
    if (on_event_) on_event_(event);
  }

  TurnResult& result_;
  StopSequences stops_;
  std::function<void(const chat::ParseEvent&)> on_event_;
};

RunningTurn::RunningTurn(PrefixCache& cache, const tokenizer::Tokenizer& tokenizer,
                         std::vector<int32_t> prompt, const TurnOptions& options,
                         std::function<void(const chat::ParseEvent&)> on_event)
    : cache_(cache),
      tokenizer_(tokenizer),
      options_(options),
      prompt_(std::move(prompt)),
      path_(prompt_),
      start_(cache.start(prompt_)),
      eos_(tokenizer.token_id("<｜end▁of▁sentence｜>")),
      detok_(tokenizer),
      parser_({.starts_in_reasoning = options.render.thinking,
               .tools = options.tools,
               .id_seed = options.id_seed}),
      sink_(std::make_unique<EventSink>(result_, options.stop_sequences, std::move(on_event))) {
  check(options.max_tokens > 0, "max_tokens must be > 0, got {}", options.max_tokens);
  result_.prompt_tokens = static_cast<int64_t>(prompt_.size());
  result_.reused_tokens = start_.reused;
  sequence_ = std::make_unique<Sequence>(
      start_.state, std::vector<int32_t>(prompt_.begin() + result_.reused_tokens, prompt_.end()),
      options.sampling, StopConditions{options.max_tokens, {static_cast<int32_t>(eos_)}});
  aim();
  // The model's vocabulary may be larger than the tokenizer's (baleen-nano: 129,280 rows, 128,847 ids): an id
  // the tokenizer lacks could not be detokenized, so it is never sampled.
  const auto defined = static_cast<ptrdiff_t>(tokenizer.size());
  if (options.forced_tools.is_array() && !options.raw_output)
    forced_call_ = std::make_unique<ToolCallConstraint>(
        tokenizer,
        chat::ToolCallGrammar(chat::dsml_tags(options.render.dialect),
                              chat::tool_functions_from_json(options.forced_tools, "tools"),
                              options.parallel_tool_calls, options.render.thinking),
        eos_);
  // The vocabulary mask, then a forced call's grammar, then the penalties (a masked id stays −inf);
  // logprobs are of the row all three made.
  std::shared_ptr<RepetitionPenalties> penalties;
  if (options.penalties.active()) penalties = std::make_shared<RepetitionPenalties>(options.penalties);
  sequence_->process_logits = [defined, forced = forced_call_.get(), penalties](std::span<float> logits,
                                                                                const Sequence& seq) {
    if (static_cast<ptrdiff_t>(logits.size()) > defined)
      std::fill(logits.begin() + defined, logits.end(), -std::numeric_limits<float>::infinity());
    if (forced) forced->apply(logits, seq.sampled());
    if (penalties) penalties->apply(logits, seq.sampled());
  };
  if (options.logprobs >= 0) sequence_->keep_logprobs(options.logprobs);
}

RunningTurn::~RunningTurn() = default;

bool RunningTurn::done() const {
  return sequence_->finished() || sink_->stopped();
}

bool RunningTurn::keep_before_last() {
  const int64_t at = prompt_tokens() - 1;
  if (at <= start_.reused || !sequence_->sampled().empty()) return false;
  before_last_ = at;
  aim();
  return true;
}

// No prefill chunk crosses the next length whose state is kept.
void RunningTurn::aim() {
  const std::vector<int64_t>& checkpoints = start_.checkpoints;
  int64_t at = next_checkpoint_ < checkpoints.size() ? checkpoints[next_checkpoint_] : 0;
  if (before_last_ > 0 && (at == 0 || before_last_ < at)) at = before_last_;
  sequence_->set_checkpoint(at);
}

bool RunningTurn::after_step() {
  SessionState& state = start_.state;
  std::vector<int64_t>& checkpoints = start_.checkpoints;
  bool kept_here = false;
  if (next_checkpoint_ < checkpoints.size() && state.length() == checkpoints[next_checkpoint_]) {
    const bool deepest = next_checkpoint_ + 1 == checkpoints.size();
    cache_.add({path_.begin(), path_.begin() + state.length()}, state.fork(),
               deepest ? PrefixCache::Kept::kDeepestBoundary : PrefixCache::Kept::kBoundary);
    ++next_checkpoint_;
    kept_here = true;
  }
  if (before_last_ > 0 && state.length() == before_last_) {
    if (!kept_here)
      cache_.add({prompt_.begin(), prompt_.begin() + before_last_}, state.fork(), PrefixCache::Kept::kBoundary);
    before_last_ = 0;
  }
  aim();
  if (static_cast<int64_t>(sequence_->sampled().size()) == result_.completion_tokens) return false;
  ++result_.completion_tokens;
  // The state holds exactly the prompt: kept for a next turn that re-renders this answer differently
  // (dropped reasoning) and so extends only the prompt.
  if (result_.completion_tokens == 1) cache_.add(prompt_, state.fork(), PrefixCache::Kept::kPromptEnd);
  const int32_t next = sequence_->sampled().back();
  if (static_cast<uint32_t>(next) == eos_) return true;
  if (options_.logprobs >= 0 && (options_.raw_output || !parser_.in_reasoning())) {
    result_.logprobs.push_back(sequence_->logprobs().back());
    if (options_.on_logprob) options_.on_logprob(result_.logprobs.back());
  }
  std::string piece;
  detok_.push(static_cast<uint32_t>(next), piece);
  result_.raw_text += piece;
  parse(piece);
  return true;
}

void RunningTurn::parse(const std::string& piece) {
  if (!options_.raw_output) {
    sink_->apply(parser_.feed(piece));
    return;
  }
  chat::ParseEvent event;  // kind: content, for a turn whose output is not parsed
  event.text = piece;
  sink_->apply({event});
}

void RunningTurn::resume() {
  check(kept_ && !done(), "only a parked turn resumes");
  path_ = prompt_;
  path_.insert(path_.end(), sequence_->sampled().begin(), sequence_->sampled().end());
  start_ = cache_.start(path_);
  next_checkpoint_ = 0;
  before_last_ = 0;  // the other choices went their own way when this one was parked
  kept_ = false;
  sequence_->rebase(start_.state, {path_.begin() + start_.reused, path_.end()});
  aim();
}

TurnResult RunningTurn::finish() {
  check(done(), "a turn finished before it was done");
  keep_state();
  if (!sink_->stopped()) {
    const std::string piece = detok_.flush();
    result_.raw_text += piece;
    parse(piece);
    if (!options_.raw_output) sink_->apply(parser_.finish());
  }
  sink_->finish();
  result_.finish = sink_->stopped()                           ? FinishReason::kStopSequence
                   : !result_.tool_calls.empty()              ? FinishReason::kToolCalls
                   : sequence_->end() == SequenceEnd::kStopId ? FinishReason::kStop
                                                              : FinishReason::kLength;
  if (sink_->stopped()) {
    result_.stop_sequence = sink_->matched();
    trim_logprobs();
  }
  return std::move(result_);
}

// A stop sequence cut the content: the tokens from the first one that starts at or past the cut go.
void RunningTurn::trim_logprobs() {
  size_t offset = 0, keep = 0;
  while (keep < result_.logprobs.size() && offset < result_.content.size())
    offset += tokenizer_.token_bytes(static_cast<uint32_t>(result_.logprobs[keep++].token)).size();
  result_.logprobs.resize(keep);
}

// What the state holds, whenever the turn ends: the prompt, then the sampled tokens fed back.
void RunningTurn::keep_state() {
  if (kept_) return;
  kept_ = true;
  std::vector<int32_t> held = prompt_;
  held.insert(held.end(), sequence_->sampled().begin(), sequence_->sampled().end());
  held.resize(static_cast<size_t>(start_.state.length()));
  cache_.add(std::move(held), std::move(start_.state), PrefixCache::Kept::kConversationEnd);
}

}  // namespace baleen::session
