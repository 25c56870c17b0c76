#include "session/turn_runner.h"

#include <algorithm>

#include "core/error.h"
#include "engine/generator.h"
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

void apply(const std::vector<chat::ParseEvent>& events, TurnResult& result, const TurnOptions& options) {
  for (const chat::ParseEvent& event : events) {
    switch (event.kind) {
      case chat::ParseEvent::Kind::kReasoning:
        result.reasoning += event.text;
        break;
      case chat::ParseEvent::Kind::kContent:
        result.content += event.text;
        break;
      case chat::ParseEvent::Kind::kToolCall:
        result.tool_calls.push_back(event.call);
        break;
      case chat::ParseEvent::Kind::kError:
        result.errors.push_back(event.error);
        break;
    }
    if (options.on_event) options.on_event(event);
  }
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
}

std::vector<int32_t> TurnRunner::prompt_tokens(const chat::Conversation& conversation,
                                               const TurnOptions& options) const {
  chat::Conversation with_tools = conversation;
  if (!options.tools.is_null()) {
    chat::attach_request_tools(with_tools, chat::tool_functions_from_json(options.tools, "tools"), nullptr);
  }
  const std::string text = chat::render_prompt(with_tools, options.render);
  const std::vector<uint32_t> ids = tokenizer_.encode(text);
  return {ids.begin(), ids.end()};
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
  Sequence seq(state_, advance_to(prompt, result.reused_tokens), options.sampling,
               {options.max_tokens, {static_cast<int32_t>(eos_)}});
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
  std::string piece;
  while (!seq.finished()) {
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
    apply(parser.feed(piece), result, options);
  }
  sync_held();
  piece = detok.flush();
  result.raw_text += piece;
  apply(parser.feed(piece), result, options);
  apply(parser.finish(), result, options);
  result.finish = !result.tool_calls.empty()            ? FinishReason::kToolCalls
                  : seq.end() == SequenceEnd::kStopId ? FinishReason::kStop
                                                        : FinishReason::kLength;
  return result;
}

}  // namespace baleen::session
