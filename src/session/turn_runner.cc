#include "session/turn_runner.h"

#include <algorithm>

#include "core/error.h"
#include "engine/generator.h"
#include "session/stop_sequences.h"
#include "tokenizer/stream_detokenizer.h"

namespace baleen::session {
namespace {

bool extends(const std::vector<int32_t>& prompt, const std::vector<int32_t>& prefix) {
  return !prefix.empty() && prompt.size() > prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), prompt.begin());
}

int64_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  const size_t n = std::min(a.size(), b.size());
  return std::mismatch(a.begin(), a.begin() + static_cast<ptrdiff_t>(n), b.begin()).first - a.begin();
}

// Snapshots kept, and earlier prompts a new one is compared with: a request file interleaves a few
// distinct system prompt + tools blocks (the nano eval: 4 with tools, more without).
constexpr size_t kMaxPrefixSnapshots = 8;
constexpr size_t kRecentPrompts = 8;

// Folds parse events into the result and passes them on; content goes through the stop sequences first,
// and nothing after a match is kept.
class EventSink {
 public:
  EventSink(TurnResult& result, const TurnOptions& options)
      : result_(result), options_(options), stops_(options.stop_sequences) {}

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
    if (options_.on_event) options_.on_event(event);
  }

  TurnResult& result_;
  const TurnOptions& options_;
  StopSequences stops_;
};

// Output text as one content event, for a turn whose output is not parsed.
std::vector<chat::ParseEvent> raw(const std::string& piece) {
  chat::ParseEvent event;
  event.text = piece;  // kind: content
  return {event};
}

}  // namespace

chat::Message text_message(chat::Role role, std::string content) {
  chat::Message m;
  m.role = role;
  m.content = std::move(content);
  return m;
}

std::string_view finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kToolCalls:
      return "tool_calls";
    case FinishReason::kStopSequence:
      return "stop";
  }
  return "stop";
}

TurnRunner::TurnRunner(Model& model, const tokenizer::Tokenizer& tokenizer, StateStorage storage)
    : model_(model),
      tokenizer_(tokenizer),
      storage_(storage),
      eos_(tokenizer.token_id("<｜end▁of▁sentence｜>")),
      state_(model.new_session(storage)),
      prompt_state_(model.new_session(storage)) {
  check(static_cast<int64_t>(tokenizer.size()) <= model.config().vocab_size,
        "tokenizer {} defines {} ids but the model's vocabulary has {}", tokenizer.file(), tokenizer.size(),
        model.config().vocab_size);
}

void TurnRunner::reset() {
  state_ = model_.new_session(storage_);
  prompt_state_ = model_.new_session(storage_);
  held_.clear();
  prompt_held_.clear();
  prefixes_.clear();
  recent_prompts_.clear();
  std::lock_guard lock(held_text_mutex_);
  held_text_.clear();
  held_text_tokens_.clear();
}

std::vector<int32_t> TurnRunner::prompt_tokens(const chat::Conversation& conversation,
                                               const TurnOptions& options) const {
  chat::Conversation with_tools = conversation;
  if (!options.tools.is_null()) {
    chat::attach_request_tools(with_tools, chat::tool_functions_from_json(options.tools, "tools"), nullptr);
  }
  return text_tokens(chat::render_prompt(with_tools, options.render));
}

std::vector<int32_t> TurnRunner::text_tokens(std::string_view text) const {
  std::vector<int32_t> prompt;
  std::string_view tail = text;
  {
    std::lock_guard lock(held_text_mutex_);
    if (!held_text_.empty() && text.size() > held_text_.size() && text.starts_with(held_text_)) {
      prompt = held_text_tokens_;
      tail.remove_prefix(held_text_.size());
    }
  }
  const std::vector<uint32_t> ids = tokenizer_.encode(tail);
  prompt.insert(prompt.end(), ids.begin(), ids.end());
  return prompt;
}

std::vector<int32_t> TurnRunner::advance_to(const std::vector<int32_t>& prompt, int64_t& reused) {
  if (!extends(prompt, held_)) {
    if (extends(prompt, prompt_held_)) {
      state_ = prompt_state_.fork();
      held_ = prompt_held_;
    } else {
      state_ = model_.new_session(storage_);
      held_.clear();
      auto best = prefixes_.end();
      for (auto it = prefixes_.begin(); it != prefixes_.end(); ++it) {
        if (extends(prompt, it->tokens) &&
            (best == prefixes_.end() || it->tokens.size() > best->tokens.size())) {
          best = it;
        }
      }
      if (best != prefixes_.end()) {
        state_ = best->state.fork();
        held_ = best->tokens;
        std::rotate(prefixes_.begin(), best, best + 1);  // most recently used first
      }
    }
  }
  reused = static_cast<int64_t>(held_.size());
  // The longest prefix this prompt shares with a recent one (a system prompt and tools block) is likely
  // shared by the next prompts too: save the state at its last resume boundary.
  int64_t shared = 0;
  for (const std::vector<int32_t>& p : recent_prompts_) shared = std::max(shared, common_prefix(prompt, p));
  const int64_t step = model_.config().resume_granularity();
  const int64_t boundary = std::min(shared, static_cast<int64_t>(prompt.size()) - 1) / step * step;
  if (boundary > reused) {
    model_.prefill(std::span(prompt).subspan(held_.size(), static_cast<size_t>(boundary) - held_.size()),
                   state_, kPrefillChunk, LogitRows::kNone);
    held_.assign(prompt.begin(), prompt.begin() + boundary);
    prefixes_.insert(prefixes_.begin(), {held_, state_.fork()});
    if (prefixes_.size() > kMaxPrefixSnapshots) prefixes_.pop_back();
  }
  recent_prompts_.push_front(prompt);
  if (recent_prompts_.size() > kRecentPrompts) recent_prompts_.pop_back();
  return {prompt.begin() + static_cast<ptrdiff_t>(held_.size()), prompt.end()};
}

TurnResult TurnRunner::generate(const std::vector<int32_t>& prompt, const TurnOptions& options) {
  check(!prompt.empty(), "turn runner: empty prompt");
  check(options.max_tokens > 0, "max_tokens must be > 0, got {}", options.max_tokens);
  TurnResult result;
  result.prompt_tokens = static_cast<int64_t>(prompt.size());
  {
    std::lock_guard lock(held_text_mutex_);  // the state changes: no prompt may be spliced onto it now
    held_text_.clear();
    held_text_tokens_.clear();
  }
  Sequence seq(state_, advance_to(prompt, result.reused_tokens), options.sampling,
               {options.max_tokens, {static_cast<int32_t>(eos_)}});
  if (options.on_prompt) options.on_prompt(result.prompt_tokens, result.reused_tokens);
  // What the state holds, whenever the turn ends: the prompt, then the sampled tokens fed back.
  auto sync_held = [&] {
    held_ = prompt;
    held_.insert(held_.end(), seq.sampled().begin(), seq.sampled().end());
    held_.resize(static_cast<size_t>(state_.length()));
  };
  Generator generator(model_);
  Sequence* one[] = {&seq};
  tokenizer::StreamDetokenizer detok(tokenizer_);
  chat::OutputParser parser(
      {.starts_in_reasoning = options.render.thinking, .tools = options.tools, .id_seed = options.id_seed});
  EventSink sink(result, options);
  std::string piece;
  while (!seq.finished() && !sink.stopped()) {
    if (options.stop && options.stop->load()) {
      sync_held();
      throw TurnInterrupted();
    }
    if (generator.step(one) == 0) continue;  // a prefill chunk before the prompt's last
    ++result.completion_tokens;
    if (seq.sampled().size() == 1) {  // the state holds exactly the prompt: keep it for a re-rendered next turn
      prompt_state_ = state_.fork();
      prompt_held_ = prompt;
    }
    const int32_t next = seq.sampled().back();
    if (static_cast<uint32_t>(next) == eos_) break;
    piece.clear();
    detok.push(static_cast<uint32_t>(next), piece);
    result.raw_text += piece;
    sink.apply(options.raw_output ? raw(piece) : parser.feed(piece));
  }
  sync_held();
  if (!sink.stopped()) {
    piece = detok.flush();
    result.raw_text += piece;
    sink.apply(options.raw_output ? raw(piece) : parser.feed(piece));
    if (!options.raw_output) sink.apply(parser.finish());
  }
  sink.finish();
  result.finish = sink.stopped()                       ? FinishReason::kStopSequence
                  : !result.tool_calls.empty()          ? FinishReason::kToolCalls
                  : seq.end() == SequenceEnd::kStopId ? FinishReason::kStop
                                                        : FinishReason::kLength;
  if (sink.stopped()) result.stop_sequence = sink.matched();
  remember_held_text();
  return result;
}

void TurnRunner::remember_held_text() {
  std::string text;
  for (const int32_t id : held_) text += tokenizer_.token_bytes(static_cast<uint32_t>(id));
  std::lock_guard lock(held_text_mutex_);
  held_text_ = std::move(text);
  held_text_tokens_ = held_;
}

}  // namespace baleen::session
