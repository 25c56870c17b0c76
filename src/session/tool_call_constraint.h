// Decoding constrained to a forced tool call: before each sample, every token whose bytes would take the
// output out of the tool-call grammar (chat/tool_call_grammar.h) gets logit -inf, and the end of sentence
// is allowed only once the call block has closed. Composes with other logits processors (it only lowers
// logits to -inf). Cost per step: 256 one-byte probes give the bytes the state allows; only tokens whose
// first byte is one of them are walked, and where the state is free text (a string value, reasoning) a
// token made only of bytes that keep it (no '<'; plain ASCII inside a JSON string) is taken without a
// walk, so a step walks a few thousand tokens at most, never the ~129K vocabulary.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "chat/tool_call_grammar.h"
#include "tokenizer/tokenizer.h"

namespace baleen::session {

class ToolCallConstraint {
 public:
  // Borrows the tokenizer. `eos`: the end-of-sentence id.
  ToolCallConstraint(const tokenizer::Tokenizer& tokenizer, chat::ToolCallGrammar grammar, uint32_t eos);

  // `sampled`: every token sampled so far (the constraint catches up on those it has not seen).
  void apply(std::span<float> logits, std::span<const int32_t> sampled);

 private:
  size_t refused_at(chat::ToolCallGrammar::State s, uint32_t id) const;

  chat::ToolCallGrammar grammar_;
  chat::ToolCallGrammar::State state_;
  uint32_t eos_;
  size_t seen_ = 0;
  std::vector<std::string_view> bytes_;                  // by id
  std::vector<uint16_t> lt_tail_, json_tail_;            // by id: where its free-text tail starts
  std::array<std::vector<uint32_t>, 256> by_first_;      // ids by first byte (EOS and empty tokens left out)
  std::array<std::vector<uint16_t>, 256> lcp_;           // of each bucket entry with the one before
  std::vector<uint32_t> unlisted_;                       // those left out
  std::vector<uint32_t> with_lt_, json_special_;         // ids whose free-text tail is not the whole token
  std::vector<std::pair<uint32_t, float>> kept_;
};

}  // namespace baleen::session
