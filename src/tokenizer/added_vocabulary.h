// Added tokens (special and non-special) of a tokenizer.json, matched in the input before
// pre-tokenization the way Hugging Face `tokenizers` does: first the tokens with normalized=false over
// the whole text, then those with normalized=true over the gaps; each pass takes the leftmost, then
// longest match; lstrip/rstrip absorb adjacent Unicode whitespace. Thread-safe after construction.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace baleen::tokenizer {

struct AddedToken {
  std::string content;
  uint32_t id = 0;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;
};

// A piece of input: either an added token's span (id set) or text to pre-tokenize (id kText).
struct Segment {
  static constexpr uint32_t kText = UINT32_MAX;
  std::string_view text;
  uint32_t id = kText;
};

class AddedVocabulary {
 public:
  // Adds a token, or replaces the one with the same content. Error for empty content.
  void add(const AddedToken& token);

  const std::vector<AddedToken>& tokens() const { return tokens_; }
  const AddedToken* find(std::string_view content) const;

  // Appends the segments of `text` in order; they tile `text` exactly.
  void split(std::string_view text, std::vector<Segment>& out) const;

 private:
  // A byte trie over one pass's token contents, children kept sorted by byte.
  struct Trie {
    struct Node {
      std::vector<std::pair<uint8_t, int32_t>> children;
      int32_t token = -1;  // index into tokens_
    };
    std::vector<Node> nodes{1};
    bool first_byte[256] = {};
    void insert(std::string_view key, int32_t token);
    // The longest token matching at text[pos], or -1.
    int32_t longest_at(std::string_view text, size_t pos) const;
  };

  void rebuild();
  void split_pass(const Trie& trie, std::string_view text, std::vector<Segment>& out) const;

  std::vector<AddedToken> tokens_;
  Trie raw_;         // normalized == false: matched on the raw text first
  Trie normalized_;  // normalized == true: matched on the remaining gaps
};

}  // namespace baleen::tokenizer
