#include "session/tool_call_constraint.h"

#include <algorithm>
#include <limits>

#include "core/error.h"

namespace baleen::session {

ToolCallConstraint::ToolCallConstraint(const tokenizer::Tokenizer& tokenizer, chat::ToolCallGrammar grammar,
                                       uint32_t eos)
    : grammar_(std::move(grammar)), state_(grammar_.start()), eos_(eos) {
  bytes_.resize(tokenizer.size());
  classes_.resize(tokenizer.size());
  for (uint32_t id = 0; id < tokenizer.size(); ++id) {
    if (!tokenizer.is_defined(id) || id == eos) continue;
    const std::string_view b = tokenizer.token_bytes(id);
    if (b.empty()) continue;  // would never move the output on
    bytes_[id] = b;
    uint8_t cls = kNoLt | kJsonAscii;
    for (char c : b) {
      if (c == '<') cls = 0;
      if (c < 0x20 || c > 0x7E || c == '"' || c == '\\') cls &= ~kJsonAscii;
    }
    classes_[id] = cls;
    by_first_[static_cast<unsigned char>(b[0])].push_back(id);
  }
}

void ToolCallConstraint::apply(std::span<float> logits, std::span<const int32_t> sampled) {
  for (; seen_ < sampled.size(); ++seen_) {
    const auto id = static_cast<uint32_t>(sampled[seen_]);
    if (id == eos_) continue;
    check(id < bytes_.size() && grammar_.advance(state_, bytes_[id]),
          "forced tool call: sampled token {} leaves the grammar", id);
  }
  using FreeText = chat::ToolCallGrammar::FreeText;
  const FreeText free = grammar_.free_text(state_);
  const uint8_t fast = free == FreeText::kAnyButLt ? kNoLt : free == FreeText::kJsonStringAscii ? kJsonAscii : 0;
  kept_.clear();
  for (int b = 0; b < 256; ++b) {
    chat::ToolCallGrammar::State probe = state_;
    if (!grammar_.advance(probe, static_cast<char>(b))) continue;
    for (uint32_t id : by_first_[b]) {
      if (id >= logits.size()) continue;
      bool ok = (classes_[id] & fast) != 0;
      if (!ok) {
        chat::ToolCallGrammar::State s = probe;
        ok = grammar_.advance(s, bytes_[id].substr(1));
      }
      if (ok) kept_.emplace_back(id, logits[id]);
    }
  }
  if (grammar_.complete(state_) && eos_ < logits.size()) kept_.emplace_back(eos_, logits[eos_]);
  std::fill(logits.begin(), logits.end(), -std::numeric_limits<float>::infinity());
  for (const auto& [id, value] : kept_) logits[id] = value;
}

}  // namespace baleen::session
