// The pre-tokenizer of a tokenizer.json: a sequence of regex Splits (behaviour "Isolated") followed by
// ByteLevel without its own regex, as the DeepSeek-V3/V4 family uses. Each Split applies to every piece
// the previous step produced, on that piece alone (lookarounds see the piece's ends), exactly like
// Hugging Face `tokenizers`. Regexes run on PCRE2 in UTF + UCP mode with JIT. Thread-safe after load.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer_json.h"

namespace baleen::tokenizer {

class PreTokenizer {
 public:
  // Builds from the "pre_tokenizer" field; Error for unsupported or malformed steps.
  static PreTokenizer from_json(const JsonField& field);
  // A pre-tokenizer from Split regexes alone (tests and tools).
  static PreTokenizer from_patterns(const std::vector<std::string>& patterns);

  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;
  ~PreTokenizer();

  // Appends the pieces of `text` (valid UTF-8) to `pieces`, in order; they tile `text` exactly.
  void split(std::string_view text, std::vector<std::string_view>& pieces) const;

 private:
  struct Regex;
  PreTokenizer();
  void add_split(const std::string& pattern, const std::string& where);

  std::vector<std::unique_ptr<Regex>> splits_;
};

}  // namespace baleen::tokenizer
