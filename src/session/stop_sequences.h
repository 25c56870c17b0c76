// Stop sequences of a turn (Anthropic's stop_sequences, OpenAI's stop): watches the turn's content text;
// text that could be the start of a sequence is held back until it is known not to be, and a match ends
// the turn with the text before it (the sequence itself is not returned, as both APIs specify).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace baleen::session {

class StopSequences {
 public:
  // Empty strings are ignored.
  explicit StopSequences(const std::vector<std::string>& sequences);

  // The content that can be released after `text` arrived; empty while held back or after a match.
  std::string feed(std::string_view text);
  // What is still held at the end of the turn (no match came).
  std::string flush();
  // The sequence that matched, once one has.
  const std::optional<std::string>& matched() const { return matched_; }

 private:
  std::vector<std::string> sequences_;
  std::string held_;
  std::optional<std::string> matched_;
};

}  // namespace baleen::session
