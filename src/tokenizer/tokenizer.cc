#include "tokenizer/tokenizer.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "tokenizer/utf8.h"

namespace baleen::tokenizer {
namespace {

nlohmann::json read_json(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  check(in.good(), "tokenizer file {}: cannot open (install it with scripts/setup.sh or pass its path)", file);
  std::stringstream buffer;
  buffer << in.rdbuf();
  try {
    return nlohmann::json::parse(buffer.str());
  } catch (const nlohmann::json::parse_error& e) {
    fail("tokenizer file {}: not valid JSON: {}", file, e.what());
  }
}

void check_normalizer(const JsonField& root) {
  const nlohmann::json* normalizer = root.find("normalizer");
  if (normalizer == nullptr) return;
  const JsonField field{*normalizer, root.file, "normalizer"};
  const bool identity = field.at("type").string() == "Sequence" && field.at("normalizers").array().empty();
  if (!identity) fail("tokenizer file {}: not implemented: normalizer {}", root.file, normalizer->dump());
}

void check_decoder(const JsonField& root) {
  const nlohmann::json* decoder = root.find("decoder");
  if (decoder == nullptr) return;
  const std::string type = JsonField{*decoder, root.file, "decoder"}.at("type").string();
  if (type != "ByteLevel") fail("tokenizer file {}: not implemented: decoder type '{}'", root.file, type);
}

AddedToken parse_added_token(const JsonField& entry) {
  AddedToken token;
  token.id = entry.at("id").id();
  token.content = entry.at("content").string();
  token.special = entry.at("special").boolean();
  token.lstrip = entry.at("lstrip").boolean();
  token.rstrip = entry.at("rstrip").boolean();
  token.normalized = entry.at("normalized").boolean();
  if (entry.at("single_word").boolean()) fail("tokenizer file {}: not implemented: '{}.single_word' true", entry.file, entry.path);
  if (token.content.empty() || !is_valid_utf8(token.content)) entry.at("content").fail_expected("non-empty UTF-8 text");
  return token;
}

}  // namespace

Tokenizer::Tokenizer(std::string file, PreTokenizer pre, Bpe bpe)
    : file_(std::move(file)), pre_(std::move(pre)), bpe_(std::move(bpe)) {
  bytes_ = bpe_.id_bytes();
  kinds_.assign(bytes_.size(), Kind::kNone);
  for (size_t id = 0; id < bytes_.size(); ++id) {
    // A vocab string outside the byte-level alphabet decodes to its own UTF-8 bytes, as HF's decoder does.
    if (!bpe_.id_literal()[id].empty()) bytes_[id] = bpe_.id_literal()[id];
    if (!bytes_[id].empty()) kinds_[id] = Kind::kVocab;
  }
}

Tokenizer Tokenizer::load(const std::filesystem::path& path) {
  const std::string file = path.string();
  const nlohmann::json json = read_json(file);
  const JsonField root{json, file, ""};
  root.object();
  check_normalizer(root);
  check_decoder(root);
  Tokenizer tokenizer(file, PreTokenizer::from_json(root.at("pre_tokenizer")), Bpe::from_json(root.at("model")));
  const JsonField added = root.at("added_tokens");
  for (size_t i = 0; i < added.array().size(); ++i) tokenizer.define_added(parse_added_token(added.at(i)));
  return tokenizer;
}

void Tokenizer::define_added(const AddedToken& token) {
  if (token.id >= kinds_.size()) kinds_.resize(token.id + 1, Kind::kNone), bytes_.resize(token.id + 1);
  added_.add(token);
  bytes_[token.id] = token.content;
  kinds_[token.id] = token.special ? Kind::kSpecial : Kind::kAdded;
}

void Tokenizer::add_tokens(std::span<const AddedToken> tokens) {
  for (const AddedToken& token : tokens) {
    if (const AddedToken* present = added_.find(token.content)) {
      check(present->id == token.id, "tokenizer file {}: token '{}' has id {} there, but {} was to be added", file_,
            token.content, present->id, token.id);
      continue;
    }
    check(!is_defined(token.id), "tokenizer file {}: id {} is already '{}', cannot add '{}'", file_, token.id,
          bytes_[token.id], token.content);
    define_added(token);
  }
}

void Tokenizer::encode(std::string_view text, std::vector<uint32_t>& out) const {
  const size_t bad = find_invalid_utf8(text);
  check(bad == std::string_view::npos, "cannot encode text that is not valid UTF-8 (first bad byte at offset {})", bad);
  thread_local std::vector<Segment> segments;
  thread_local std::vector<std::string_view> pieces;
  segments.clear();
  added_.split(text, segments);
  for (const Segment& segment : segments) {
    if (segment.id != Segment::kText) {
      out.push_back(segment.id);
      continue;
    }
    pieces.clear();
    pre_.split(segment.text, pieces);
    for (const std::string_view piece : pieces) bpe_.encode(piece, out);
  }
}

std::vector<uint32_t> Tokenizer::encode(std::string_view text) const {
  std::vector<uint32_t> ids;
  ids.reserve(text.size() / 3 + 1);
  encode(text, ids);
  return ids;
}

std::string_view Tokenizer::token_bytes(uint32_t id) const {
  check(is_defined(id), "token id {} is not defined by tokenizer {} (ids below {})", id, file_, size());
  return bytes_[id];
}

std::string Tokenizer::decode(std::span<const uint32_t> ids, DecodeOptions options) const {
  std::string bytes;
  for (const uint32_t id : ids) {
    const std::string_view token = token_bytes(id);
    if (!(options.skip_special && is_special(id))) bytes.append(token);
  }
  return is_valid_utf8(bytes) ? bytes : utf8_lossy(bytes);
}

std::optional<uint32_t> Tokenizer::find_token(std::string_view content) const {
  if (const AddedToken* token = added_.find(content)) return token->id;
  for (uint32_t id = 0; id < bytes_.size(); ++id) {
    if (kinds_[id] == Kind::kVocab && bytes_[id] == content) return id;
  }
  return std::nullopt;
}

uint32_t Tokenizer::token_id(std::string_view content) const {
  const std::optional<uint32_t> id = find_token(content);
  check(id.has_value(), "tokenizer file {}: has no token '{}'", file_, content);
  return *id;
}

std::vector<AddedToken> read_added_tokens(const std::filesystem::path& path) {
  const std::string file = path.string();
  const nlohmann::json json = read_json(file);
  const JsonField added = JsonField{json, file, ""}.at("added_tokens");
  std::vector<AddedToken> tokens;
  for (size_t i = 0; i < added.array().size(); ++i) tokens.push_back(parse_added_token(added.at(i)));
  return tokens;
}

std::filesystem::path default_tokenizer_path() {
  if (const char* explicit_path = std::getenv("BALEEN_TOKENIZER"); explicit_path && *explicit_path) return explicit_path;
  std::filesystem::path cache;
  if (const char* dir = std::getenv("BALEEN_CACHE"); dir && *dir) {
    cache = dir;
  } else {
    const char* home = std::getenv("HOME");
    cache = std::filesystem::path(home ? home : ".") / ".cache" / "baleen";
  }
  return cache / "tokenizer-deepseek_v3" / "tokenizer.json";
}

}  // namespace baleen::tokenizer
