// The DeepSeek-V3/V4 tokenizer: byte-level BPE loaded from a Hugging Face tokenizer.json, id-exact with
// Hugging Face `tokenizers` (encode without BOS). Added tokens are matched before pre-tokenization.
// Load errors name the file and field. encode/decode are const and thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/added_vocabulary.h"
#include "tokenizer/bpe.h"
#include "tokenizer/pre_tokenizer.h"

namespace baleen::tokenizer {

struct DecodeOptions {
  bool skip_special = false;  // drop added tokens marked special (BOS, EOS, ...)
};

class Tokenizer {
 public:
  // Error when the file is missing, not JSON, or a field is malformed or not supported.
  static Tokenizer load(const std::filesystem::path& file);

  // Adds tokens on top of the file's (e.g. DeepSeek-V4's set). A token already present with the same
  // content and id is left as the file has it; Error when the content or the id is taken otherwise.
  void add_tokens(std::span<const AddedToken> tokens);

  // Ids of `text` (no BOS). Error when `text` is not valid UTF-8 (names the byte offset).
  std::vector<uint32_t> encode(std::string_view text) const;
  void encode(std::string_view text, std::vector<uint32_t>& out) const;

  // Text of `ids`; invalid UTF-8 from a byte-level token split is replaced by U+FFFD as HF does.
  // Error for an id the tokenizer does not define.
  std::string decode(std::span<const uint32_t> ids, DecodeOptions options = {}) const;

  // The raw bytes a token decodes to (an added token: its content, read through the byte-level
  // alphabet where every character is in it, as HF's decoder does). Error for an unknown id.
  std::string_view token_bytes(uint32_t id) const;
  bool is_defined(uint32_t id) const { return id < kinds_.size() && kinds_[id] != Kind::kNone; }
  bool is_special(uint32_t id) const { return id < kinds_.size() && kinds_[id] == Kind::kSpecial; }

  // Id of an added token by content, or of a vocab token by its raw bytes.
  std::optional<uint32_t> find_token(std::string_view content) const;
  // The same, Error naming the token when it is absent.
  uint32_t token_id(std::string_view content) const;

  // One past the largest defined id.
  uint32_t size() const { return static_cast<uint32_t>(kinds_.size()); }
  const std::string& file() const { return file_; }

 private:
  enum class Kind : uint8_t { kNone, kVocab, kAdded, kSpecial };
  Tokenizer(std::string file, PreTokenizer pre, Bpe bpe);
  void define_added(const AddedToken& token);

  std::string file_;
  PreTokenizer pre_;
  Bpe bpe_;
  AddedVocabulary added_;
  std::vector<std::string> bytes_;  // index = id
  std::vector<Kind> kinds_;         // index = id
};

// The "added_tokens" array of a JSON file: a tokenizer.json or an overlay holding only that field (as
// tests/fixtures/tokenizer/v4_added_tokens.json). Error naming the file and the field.
std::vector<AddedToken> read_added_tokens(const std::filesystem::path& file);

// Where the tokenizer file is looked for: $BALEEN_TOKENIZER, else
// ${BALEEN_CACHE:-$HOME/.cache/baleen}/tokenizer-deepseek_v3/tokenizer.json (installed by scripts/setup.sh).
std::filesystem::path default_tokenizer_path();

}  // namespace baleen::tokenizer
