#include "session/turn_runner.h"

#include "core/error.h"
#include "session/prefix_cache.h"
#include "session/running_turn.h"

namespace baleen::session {
namespace {

// Cached states: the last conversations' ends and prompts, and their resume boundaries (a request file
// interleaves a few distinct system prompt + tools blocks: the nano eval has 4 with tools, more without).
// Each costs its private bytes — for V4-Flash about 3 MB, the sliding windows — and an agent's loop needs
// only the last conversation's end, so few are kept.
constexpr size_t kCacheEntries = 32;

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
      cache_(std::make_unique<PrefixCache>(model, tokenizer, storage,
                                           CacheLimits{.max_entries = kCacheEntries})) {
  check(static_cast<int64_t>(tokenizer.size()) <= model.config().vocab_size,
        "tokenizer {} defines {} ids but the model's vocabulary has {}", tokenizer.file(), tokenizer.size(),
        model.config().vocab_size);
}

TurnRunner::~TurnRunner() = default;

void TurnRunner::reset() {
  cache_->clear();
}

std::string render_turn_prompt(const chat::Conversation& conversation, const TurnOptions& options) {
  chat::Conversation with_tools = conversation;
  if (!options.tools.is_null()) {
    chat::attach_request_tools(with_tools, chat::tool_functions_from_json(options.tools, "tools"), nullptr);
  }
  return chat::render_prompt(with_tools, options.render);
}

std::vector<int32_t> TurnRunner::prompt_tokens(const chat::Conversation& conversation,
                                               const TurnOptions& options) const {
  return text_tokens(render_turn_prompt(conversation, options));
}

std::vector<int32_t> TurnRunner::text_tokens(std::string_view text) const {
  return cache_->text_tokens(text);
}

TurnResult TurnRunner::generate(const std::vector<int32_t>& prompt, const TurnOptions& options) {
  check(!prompt.empty(), "turn runner: empty prompt");
  check(options.max_tokens > 0, "max_tokens must be > 0, got {}", options.max_tokens);
  RunningTurn turn(*cache_, tokenizer_, prompt, options, options.on_event);
  if (options.on_prompt) options.on_prompt(turn.prompt_tokens(), turn.reused_tokens());
  Generator generator(model_);
  Sequence* one[] = {&turn.sequence()};
  while (!turn.done()) {
    if (options.stop && options.stop->load()) {
      turn.abandon();
      throw TurnInterrupted();
    }
    generator.step(one);
    turn.after_step();
  }
  return turn.finish();
}

}  // namespace baleen::session
