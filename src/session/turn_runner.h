// The turn runner (render → tokenize → generate → parse), one turn at a time: renders a conversation with
// baleen's encoder and generates the turn (session/running_turn.h) from the longest prefix its cache holds
// (session/prefix_cache.h): when the new prompt extends the last conversation only its new tokens are
// prefilled; independent requests that share a system prompt and tools block (harnesses such as `baleen run
// --requests`) resume from that prefix's last resume boundary (Config::resume_granularity), saved once two
// prompts share it — exactly (a pass split anywhere gives the one-pass bits). A prompt whose text extends
// the text a kept conversation holds (its prompt and the turn's sampled tokens) is tokenized as those held
// tokens plus the new tail, so a re-sent turn costs no prefill even where re-tokenizing its text would give
// other ids. The server runs many turns at once over the same pieces (session/scheduler.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "chat/encoder.h"
#include "chat/output_parser.h"
#include "core/error.h"
#include "engine/model.h"
#include "engine/repetition_penalties.h"
#include "engine/sampler.h"
#include "engine/token_logprobs.h"
#include "tokenizer/tokenizer.h"

namespace baleen::session {

enum class FinishReason { kStop, kLength, kToolCalls, kStopSequence };
std::string_view finish_reason_name(FinishReason reason);

struct TurnOptions {
  chat::RenderOptions render;  // dialect, thinking mode, effort
  chat::Json tools;            // request-level tools (OpenAI tool objects), or null
  SamplingParams sampling;
  Penalties penalties;  // presence / frequency, over the turn's sampled tokens
  // >= 0: each answer token's logprob and this many alternatives are kept (TurnResult::logprobs).
  int64_t logprobs = -1;
  int64_t max_tokens = 256;
  uint64_t id_seed = 0;     // tool-call ids (OutputParser)
  bool raw_output = false;  // plain text out: no reasoning, DSML or tool calls parsed (/v1/completions)
  // Set (tool objects or function objects): the client forced a call, and decoding is constrained to a
  // DSML call of one of these tools (session/tool_call_constraint.h); more than one call only with
  // parallel_tool_calls.
  chat::Json forced_tools;
  bool parallel_tool_calls = true;
  std::vector<std::string> stop_sequences;                // end the turn at one in the content
  std::function<void(const chat::ParseEvent&)> on_event;  // streamed parse events, optional
  std::function<void(const TokenLogprob&)> on_logprob;    // streamed answer-token logprobs, optional
  // Called once the reused prefix is known, before the prompt's new tokens are prefilled.
  std::function<void(int64_t prompt_tokens, int64_t reused_tokens)> on_prompt;
  const std::atomic<bool>* stop = nullptr;  // set: the turn throws TurnInterrupted
};

struct TurnResult {
  std::string reasoning, content, raw_text;
  std::vector<chat::ToolCall> tool_calls;
  std::vector<chat::ParseError> errors;
  FinishReason finish = FinishReason::kStop;
  std::string stop_sequence;  // the one that ended the turn (kStopSequence)
  int64_t prompt_tokens = 0;
  int64_t reused_tokens = 0;      // prompt tokens the session state already held
  int64_t completion_tokens = 0;  // generated, EOS included when it came
  // With options.logprobs: the answer's tokens — after the reasoning, up to a stop sequence, EOS left out.
  std::vector<TokenLogprob> logprobs;
};

class TurnInterrupted : public Error {
 public:
  TurnInterrupted() : Error("interrupted") {}
};

// A message with a role and text only.
chat::Message text_message(chat::Role role, std::string content);

class PrefixCache;

class TurnRunner {
 public:
  // Borrows both; the model must outlive the session.
  TurnRunner(Model& model, const tokenizer::Tokenizer& tokenizer,
             StateStorage storage = StateStorage::kPaper);
  ~TurnRunner();

  // The conversation (request tools attached) rendered and tokenized: the prompt generate() takes.
  // Thread-safe against a running generate().
  std::vector<int32_t> prompt_tokens(const chat::Conversation& conversation,
                                     const TurnOptions& options) const;
  // Text tokenized as a prompt (a raw continuation): the held tokens where the text extends the held text.
  std::vector<int32_t> text_tokens(std::string_view text) const;
  // One assistant turn from a prompt of prompt_tokens().
  TurnResult generate(const std::vector<int32_t>& prompt, const TurnOptions& options);
  TurnResult turn(const chat::Conversation& conversation, const TurnOptions& options) {
    return generate(prompt_tokens(conversation, options), options);
  }

  void reset();

 private:
  Model& model_;
  const tokenizer::Tokenizer& tokenizer_;
  // The states of the last conversations, their prompts and shared prefixes (session/prefix_cache.h).
  std::unique_ptr<PrefixCache> cache_;
};

// The conversation with the request's tools attached, rendered.
std::string render_turn_prompt(const chat::Conversation& conversation, const TurnOptions& options);

}  // namespace baleen::session
