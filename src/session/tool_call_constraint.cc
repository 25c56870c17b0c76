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
    if (lt_tail_[id] > 0) with_lt_.push_back(id);
    if (json_tail_[id] > 0) json_special_.push_back(id);
  }
  // Buckets in byte order, with the common prefix of each token and the one before it: a token refused at
  // byte k rules out every following token that shares its first k + 1 bytes.
  for (int b = 0; b < 256; ++b) {
    std::vector<uint32_t>& ids = by_first_[b];
    std::sort(ids.begin(), ids.end(), [&](uint32_t x, uint32_t y) { return bytes_[x] < bytes_[y]; });
    lcp_[b].resize(ids.size());
    for (size_t i = 1; i < ids.size(); ++i) {
      const std::string_view x = bytes_[ids[i - 1]], y = bytes_[ids[i]];
      size_t k = 0;
      while (k < x.size() && k < y.size() && x[k] == y[k]) ++k;
      lcp_[b][i] = static_cast<uint16_t>(std::min<size_t>(k, UINT16_MAX));
    }
  }
}

// 0 when the token goes on from `s` (its first byte already taken), else the index of the byte refused:
// walked byte by byte until the rest is bytes the state lets through unchanged.
size_t ToolCallConstraint::refused_at(chat::ToolCallGrammar::State s, uint32_t id) const {
  using FreeText = chat::ToolCallGrammar::FreeText;
  const std::string_view b = bytes_[id];
  for (size_t i = 1;; ++i) {
    const FreeText free = grammar_.free_text(s);
    if ((free == FreeText::kAnyButLt && i >= lt_tail_[id]) || (free == FreeText::kJsonStringAscii && i >= json_tail_[id]))
      return 0;
    if (i == b.size()) return 0;
    if (!grammar_.advance(s, b[i])) return i;
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
  const auto mask = [&](uint32_t id) {
    if (id < n) logits[id] = kMasked;
  };
  using FreeText = chat::ToolCallGrammar::FreeText;
  const FreeText free = grammar_.free_text(state_);
  if (free != FreeText::kNone || allowed > 64) {
    // Free text: most tokens stay; mask in place the few that leave the grammar.
    for (uint32_t id : unlisted_)
      if (!(id == eos_ && grammar_.complete(state_))) mask(id);
    for (int b = 0; b < 256; ++b)
      if (!first_ok[b])
        for (uint32_t id : by_first_[b]) mask(id);
    if (free != FreeText::kNone) {  // only tokens with bytes that may change the state need a walk
      for (uint32_t id : free == FreeText::kAnyButLt ? with_lt_ : json_special_) {
        const auto b = static_cast<unsigned char>(bytes_[id][0]);
        if (first_ok[b] && refused_at(probes[b], id) != 0) mask(id);
      }
      return;
    }
    for (int b = 0; b < 256; ++b) {
      if (!first_ok[b]) continue;
      const std::vector<uint32_t>& ids = by_first_[b];
      for (size_t i = 0; i < ids.size(); ++i) {
        const size_t k = refused_at(probes[b], ids[i]);
        if (k == 0) continue;
        mask(ids[i]);
        while (i + 1 < ids.size() && lcp_[b][i + 1] > k) mask(ids[++i]);
      }
    }
    return;
  }
  // Structure: few tokens fit; keep those, mask everything else.
  kept_.clear();
  for (int b = 0; b < 256; ++b) {
    if (!first_ok[b]) continue;
    const std::vector<uint32_t>& ids = by_first_[b];
    for (size_t i = 0; i < ids.size(); ++i) {
      const size_t k = refused_at(probes[b], ids[i]);
      if (k == 0) {
        if (ids[i] < n) kept_.emplace_back(ids[i], logits[ids[i]]);
        continue;
      }
      while (i + 1 < ids.size() && lcp_[b][i + 1] > k) ++i;
    }
  }
  if (grammar_.complete(state_) && eos_ < logits.size()) kept_.emplace_back(eos_, logits[eos_]);
  std::fill(logits.begin(), logits.end(), kMasked);
  for (const auto& [id, value] : kept_) logits[id] = value;
}

}  // namespace baleen::session
