#include "session/stop_sequences.h"

#include <algorithm>

namespace baleen::session {

StopSequences::StopSequences(const std::vector<std::string>& sequences) {
  for (const std::string& s : sequences)
    if (!s.empty()) sequences_.push_back(s);
}

std::string StopSequences::feed(std::string_view text) {
  if (matched_) return "";
  held_ += text;
  // The earliest match wins (as text streams, a sequence completes before any longer one at its position).
  size_t at = std::string::npos;
  for (const std::string& s : sequences_) {
    if (const size_t p = held_.find(s); p < at) {
      at = p;
      matched_ = s;
    }
  }
  if (matched_) {
    std::string out = held_.substr(0, at);
    held_.clear();
    return out;
  }
  // Keep the longest tail that is a proper prefix of some sequence. A sequence is valid UTF-8, so the
  // tail starts at a character boundary and the released text never ends inside a character.
  size_t keep = 0;
  for (const std::string& s : sequences_) {
    for (size_t n = std::min(s.size() - 1, held_.size()); n > keep; --n) {
      if (held_.compare(held_.size() - n, n, s, 0, n) == 0) {
        keep = n;
        break;
      }
    }
  }
  std::string out = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return out;
}

std::string StopSequences::flush() {
  std::string out;
  out.swap(held_);
  return out;
}

}  // namespace baleen::session
