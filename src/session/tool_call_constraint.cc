#include "session/tool_call_constraint.h"

#include <algorithm>
#include <limits>

#include "core/error.h"

namespace baleen::session {
namespace {

// The length of the well-formed UTF-8 sequence at b[i] (what a strict JSON reader takes: no overlongs,
// no surrogates, at most U+10FFFF); 0 if there is none, or it does not end inside `b`.
size_t utf8_sequence(std::string_view b, size_t i) {
  const auto c = static_cast<unsigned char>(b[i]);
  if (c < 0x80) return 1;
  size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + len > b.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    const auto d = static_cast<unsigned char>(b[i + k]);
    if (d < lo || d > hi) return 0;
    lo = 0x80;
    hi = 0xBF;
  }
  return len;
}

}  // namespace

ToolCallConstraint::ToolCallConstraint(const tokenizer::Tokenizer& tokenizer, chat::ToolCallGrammar grammar,
                                       uint32_t eos)
    : grammar_(std::move(grammar)), state_(grammar_.start()), eos_(eos) {
  bytes_.resize(tokenizer.size());
  lt_tail_.resize(tokenizer.size());
  json_tail_.resize(tokenizer.size());
  for (uint32_t id = 0; id < tokenizer.size(); ++id) {
    const std::string_view b = tokenizer.is_defined(id) ? tokenizer.token_bytes(id) : std::string_view();
    if (id == eos || b.empty()) {  // the end is allowed apart; an empty token would never move the output on
      unlisted_.push_back(id);
      continue;
    }
    bytes_[id] = b;
    // From these positions on the token is bytes that free text lets through: no '<'; inside a JSON
    // string, printable ASCII but '"', '\\', '<', and whole well-formed UTF-8 sequences.
    for (size_t i = 0; i < b.size();) {
      const char c = b[i];
      if (c == '<') lt_tail_[id] = static_cast<uint16_t>(i + 1);
      const size_t len = utf8_sequence(b, i);
      const bool plain = len > 1 || (len == 1 && c >= 0x20 && c != '"' && c != '\\' && c != '<');
      if (!plain) json_tail_[id] = static_cast<uint16_t>(i + 1);
      i += std::max<size_t>(len, 1);
    }
    by_first_[static_cast<unsigned char>(b[0])].push_back(id);
  }
}

// Whether the token goes on from `s` (its first byte already taken): walked byte by byte until the rest is
// bytes the state lets through unchanged.
bool ToolCallConstraint::fits(chat::ToolCallGrammar::State s, uint32_t id) const {
  using FreeText = chat::ToolCallGrammar::FreeText;
  const std::string_view b = bytes_[id];
  for (size_t i = 1;; ++i) {
    const FreeText free = grammar_.free_text(s);
    if ((free == FreeText::kAnyButLt && i >= lt_tail_[id]) || (free == FreeText::kJsonStringAscii && i >= json_tail_[id]))
      return true;
    if (i == b.size()) return true;
    if (!grammar_.advance(s, b[i])) return false;
  }
}

void ToolCallConstraint::apply(std::span<float> logits, std::span<const int32_t> sampled) {
  for (; seen_ < sampled.size(); ++seen_) {
    const auto id = static_cast<uint32_t>(sampled[seen_]);
    if (id == eos_) continue;
    check(id < bytes_.size() && grammar_.advance(state_, bytes_[id]),
          "forced tool call: sampled token {} leaves the grammar", id);
  }
  constexpr float kMasked = -std::numeric_limits<float>::infinity();
  const size_t n = std::min(logits.size(), bytes_.size());
  std::array<chat::ToolCallGrammar::State, 256> probes;
  std::array<bool, 256> first_ok{};
  int allowed = 0;
  for (int b = 0; b < 256; ++b) {
    probes[b] = state_;
    first_ok[b] = grammar_.advance(probes[b], static_cast<char>(b));
    allowed += first_ok[b];
  }
  if (allowed > 64) {
    // Free text: most tokens stay (those wholly of bytes that keep the state, at once); mask in place the
    // few that leave the grammar.
    using FreeText = chat::ToolCallGrammar::FreeText;
    const FreeText free = grammar_.free_text(state_);
    const std::vector<uint16_t>* tails = free == FreeText::kAnyButLt          ? &lt_tail_
                                         : free == FreeText::kJsonStringAscii ? &json_tail_
                                                                              : nullptr;
    for (int b = 0; b < 256; ++b)
      for (uint32_t id : by_first_[b]) {
        if (id >= n || (tails && (*tails)[id] == 0)) continue;
        if (!first_ok[b] || !fits(probes[b], id)) logits[id] = kMasked;
      }
    for (uint32_t id : unlisted_)
      if (id < logits.size() && !(id == eos_ && grammar_.complete(state_))) logits[id] = kMasked;
    return;
  }
  // Structure: few tokens fit; keep those, mask everything else.
  kept_.clear();
  for (int b = 0; b < 256; ++b) {
    if (!first_ok[b]) continue;
    for (uint32_t id : by_first_[b])
      if (id < n && fits(probes[b], id)) kept_.emplace_back(id, logits[id]);
  }
  if (grammar_.complete(state_) && eos_ < logits.size()) kept_.emplace_back(eos_, logits[eos_]);
  std::fill(logits.begin(), logits.end(), kMasked);
  for (const auto& [id, value] : kept_) logits[id] = value;
}

}  // namespace baleen::session
