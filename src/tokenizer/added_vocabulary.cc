#include "tokenizer/added_vocabulary.h"

#include <algorithm>

#include "core/error.h"
#include "tokenizer/utf8.h"

namespace baleen::tokenizer {
namespace {

// Unicode White_Space, which is what Rust's char::is_whitespace (used by HF for lstrip/rstrip) tests.
bool is_unicode_whitespace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

// Start of the run of whitespace that ends at `end` (text is valid UTF-8).
size_t whitespace_run_start(std::string_view text, size_t end) {
  size_t pos = end;
  while (pos > 0) {
    size_t start = pos - 1;
    while (start > 0 && (static_cast<uint8_t>(text[start]) & 0xC0) == 0x80) --start;
    if (!is_unicode_whitespace(utf8_step(text, start).code_point)) break;
    pos = start;
  }
  return pos;
}

// End of the run of whitespace that starts at `begin`.
size_t whitespace_run_end(std::string_view text, size_t begin) {
  size_t pos = begin;
  while (pos < text.size()) {
    const Utf8Step step = utf8_step(text, pos);
    if (!is_unicode_whitespace(step.code_point)) break;
    pos += step.length;
  }
  return pos;
}

}  // namespace

void AddedVocabulary::Trie::insert(std::string_view key, int32_t token) {
  int32_t node = 0;
  for (const char c : key) {
    const auto byte = static_cast<uint8_t>(c);
    auto& children = nodes[node].children;
    auto it = std::lower_bound(children.begin(), children.end(), std::pair<uint8_t, int32_t>{byte, -1});
    if (it == children.end() || it->first != byte) {
      it = children.insert(it, {byte, static_cast<int32_t>(nodes.size())});
      nodes.emplace_back();  // invalidates `children`; `it` is not used after this
      node = static_cast<int32_t>(nodes.size()) - 1;
    } else {
      node = it->second;
    }
  }
  nodes[node].token = token;
  first_byte[static_cast<uint8_t>(key[0])] = true;
}

int32_t AddedVocabulary::Trie::longest_at(std::string_view text, size_t pos) const {
  int32_t node = 0, best = -1;
  for (size_t i = pos; i < text.size(); ++i) {
    const auto& children = nodes[node].children;
    const auto byte = static_cast<uint8_t>(text[i]);
    const auto it = std::lower_bound(children.begin(), children.end(), std::pair<uint8_t, int32_t>{byte, -1});
    if (it == children.end() || it->first != byte) break;
    node = it->second;
    if (nodes[node].token >= 0) best = nodes[node].token;
  }
  return best;
}

void AddedVocabulary::add(const AddedToken& token) {
  check(!token.content.empty(), "added token {} has empty content", token.id);
  check(is_valid_utf8(token.content), "added token {} is not valid UTF-8", token.id);
  const auto it = std::find_if(tokens_.begin(), tokens_.end(),
                               [&](const AddedToken& t) { return t.content == token.content; });
  if (it != tokens_.end()) {
    *it = token;
    rebuild();
  } else {
    tokens_.push_back(token);
    (token.normalized ? normalized_ : raw_).insert(token.content, static_cast<int32_t>(tokens_.size() - 1));
  }
}

const AddedToken* AddedVocabulary::find(std::string_view content) const {
  const auto it =
      std::find_if(tokens_.begin(), tokens_.end(), [&](const AddedToken& t) { return t.content == content; });
  return it == tokens_.end() ? nullptr : &*it;
}

void AddedVocabulary::rebuild() {
  raw_ = Trie{};
  normalized_ = Trie{};
  for (size_t i = 0; i < tokens_.size(); ++i) {
    (tokens_[i].normalized ? normalized_ : raw_).insert(tokens_[i].content, static_cast<int32_t>(i));
  }
}

// HF's AddedVocabulary::find_matches for one pass.
void AddedVocabulary::split_pass(const Trie& trie, std::string_view text, std::vector<Segment>& out) const {
  size_t done = 0;  // end of the last emitted segment
  size_t pos = 0;
  while (pos < text.size()) {
    const int32_t index = trie.first_byte[static_cast<uint8_t>(text[pos])] ? trie.longest_at(text, pos) : -1;
    if (index < 0) {
      ++pos;
      continue;
    }
    const AddedToken& token = tokens_[index];
    size_t start = pos, stop = pos + token.content.size();
    if (token.lstrip) start = std::max(whitespace_run_start(text, start), done);
    if (token.rstrip) stop = whitespace_run_end(text, stop);
    if (done < start) out.push_back({text.substr(done, start - done), Segment::kText});
    out.push_back({text.substr(start, stop - start), token.id});
    done = pos = stop;
  }
  if (done < text.size()) out.push_back({text.substr(done), Segment::kText});
}

void AddedVocabulary::split(std::string_view text, std::vector<Segment>& out) const {
  thread_local std::vector<Segment> first;
  first.clear();
  split_pass(raw_, text, first);
  for (const Segment& segment : first) {
    if (segment.id == Segment::kText) {
      split_pass(normalized_, segment.text, out);
    } else {
      out.push_back(segment);
    }
  }
}

}  // namespace baleen::tokenizer
