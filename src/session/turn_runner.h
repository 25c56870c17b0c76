// The turn runner (render → tokenize → generate → parse): holds a Model, a Tokenizer and a SessionState;
// renders a conversation with baleen's encoder, prefills only the tokens beyond the state's prefix when the
// new prompt extends it (else resumes from the longest saved prefix snapshot, else starts a fresh state),
// decodes until end of sentence or max_tokens, and parses the output as it streams. Independent requests that
// share a system prompt and tools block (harnesses such as `baleen run --requests`) reuse that prefix: when a
// prompt shares a prefix with a recent one, the state at the prefix's last resume boundary
// (Config::resume_granularity) is saved, and later prompts with that prefix resume there, exactly (a pass
// split anywhere gives the one-pass bits). A prompt whose text extends the text the state holds (the
// previous prompt and the turn's sampled tokens) is tokenized as those held tokens plus the new tail, so a
// re-sent turn costs no prefill even where re-tokenizing its text would give other ids.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "chat/encoder.h"
#include "chat/output_parser.h"
#include "core/error.h"
#include "engine/model.h"
#include "engine/sampler.h"
#include "tokenizer/tokenizer.h"

namespace baleen::session {

enum class FinishReason { kStop, kLength, kToolCalls, kStopSequence };
std::string_view finish_reason_name(FinishReason reason);

struct TurnOptions {
  chat::RenderOptions render;  // dialect, thinking mode, effort
  chat::Json tools;            // request-level tools (OpenAI tool objects), or null
  SamplingParams sampling;
  int64_t max_tokens = 256;
  uint64_t id_seed = 0;                                   // tool-call ids (OutputParser)
  bool raw_output = false;  // plain text out: no reasoning, DSML or tool calls parsed (/v1/completions)
  std::vector<std::string> stop_sequences;                // end the turn at one in the content
  std::function<void(const chat::ParseEvent&)> on_event;  // streamed parse events, optional
  // Called once the reused prefix is known, before the prompt's new tokens are prefilled.
  std::function<void(int64_t prompt_tokens, int64_t reused_tokens)> on_prompt;
  const std::atomic<bool>* stop = nullptr;                // set: the turn throws TurnInterrupted
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
};

class TurnInterrupted : public Error {
 public:
  TurnInterrupted() : Error("interrupted") {}
};

// A message with a role and text only.
chat::Message text_message(chat::Role role, std::string content);

class TurnRunner {
 public:
  // Borrows both; the model must outlive the session.
  TurnRunner(Model& model, const tokenizer::Tokenizer& tokenizer, StateStorage storage = StateStorage::kPaper);

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
  // Brings state_ to hold the longest reusable prefix of `prompt` (a resume boundary it shares with a
  // recent prompt is prefilled and snapshotted); returns the tokens still to feed and how many were reused.
  std::vector<int32_t> advance_to(const std::vector<int32_t>& prompt, int64_t& reused);
  void remember_held_text();

  Model& model_;
  const tokenizer::Tokenizer& tokenizer_;
  StateStorage storage_;
  uint32_t eos_;
  SessionState state_;
  std::vector<int32_t> held_;  // tokens in state_
  // Snapshot at the end of the last prompt: a next prompt that re-renders the answer differently (dropped
  // reasoning) still reuses the earlier prompt.
  SessionState prompt_state_;
  std::vector<int32_t> prompt_held_;
  // States at resume boundaries of prefixes shared by consecutive prompts, most recently used first.
  struct PrefixSnapshot {
    std::vector<int32_t> tokens;
    SessionState state;
  };
  std::vector<PrefixSnapshot> prefixes_;
  std::deque<std::vector<int32_t>> recent_prompts_;  // newest first
  // The text of the tokens the state held after the last completed turn, and those tokens: read by
  // prompt_tokens() while another request may be generating, hence the mutex.
  mutable std::mutex held_text_mutex_;
  std::string held_text_;
  std::vector<int32_t> held_text_tokens_;
};

}  // namespace baleen::session
