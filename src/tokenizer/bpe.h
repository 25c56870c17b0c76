// Byte-pair encoding by merge rank over raw bytes: a piece's bytes start as single-byte tokens and the
// adjacent pair of lowest rank (leftmost on ties) merges until none is left, as Hugging Face's BPE
// model does. Results are cached per piece. encode() is thread-safe (the cache is locked).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer_json.h"

namespace baleen::tokenizer {

class Bpe {
 public:
  // Builds from the "model" field (type BPE, byte-level vocab and merges). Error naming the field for a
  // vocab or merge entry that is malformed, and for options that are not implemented.
  static Bpe from_json(const JsonField& model);

  Bpe(Bpe&&) noexcept;
  Bpe& operator=(Bpe&&) noexcept;
  ~Bpe();

  // Appends the ids of one pre-tokenized piece (raw bytes, non-empty).
  void encode(std::string_view piece, std::vector<uint32_t>& out) const;
  // The same without the cache: the plain merge loop (tests compare the two).
  void encode_uncached(std::string_view piece, std::vector<uint32_t>& out) const;

  // Raw bytes of every vocab id (index = id; empty for ids the vocab does not define).
  const std::vector<std::string>& id_bytes() const { return id_bytes_; }
  // Vocab entries whose byte-level string does not stand for bytes (e.g. "<｜begin▁of▁sentence｜>"):
  // index = id, the string as written in the file; empty otherwise.
  const std::vector<std::string>& id_literal() const { return id_literal_; }

 private:
  struct Merges;
  struct Cache;
  Bpe();

  std::vector<std::string> id_bytes_;
  std::vector<std::string> id_literal_;
  uint32_t byte_id_[256] = {};
  std::unique_ptr<Merges> merges_;
  std::unique_ptr<Cache> cache_;
};

}  // namespace baleen::tokenizer
