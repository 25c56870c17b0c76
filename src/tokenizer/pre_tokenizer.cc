#include "tokenizer/pre_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cctype>
#include <cstdint>

#include "core/error.h"
#include "tokenizer/onig_pattern.h"

namespace baleen::tokenizer {

// One compiled Split regex. Match data is per thread so split() is const and thread-safe.
struct PreTokenizer::Regex {
  pcre2_code* code = nullptr;
  ~Regex() { pcre2_code_free(code); }
};

namespace {

// Match data for one thread, reused across calls (one match = one ovector pair).
pcre2_match_data* thread_match_data() {
  struct Holder {
    pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
    ~Holder() { pcre2_match_data_free(data); }
  };
  thread_local Holder holder;
  return holder.data;
}

// HF's Split with behaviour Isolated: every match and every gap between matches is one piece;
// empty pieces are dropped.
void split_isolated(const pcre2_code* code, std::string_view text, std::vector<std::string_view>& out) {
  pcre2_match_data* match = thread_match_data();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t start = 0, gap = 0;
  while (start < text.size()) {
    const int rc = pcre2_jit_match(code, subject, text.size(), start, PCRE2_NO_UTF_CHECK, match, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) fail("pre-tokenizer regex failed with PCRE2 error {}", rc);
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(match);
    if (ov[1] == ov[0]) {
      // An empty match: step over one code point, as HF's find_iter does.
      start = ov[1] + 1;
      while (start < text.size() && (static_cast<uint8_t>(text[start]) & 0xC0) == 0x80) ++start;
      continue;
    }
    if (ov[0] > gap) out.push_back(text.substr(gap, ov[0] - gap));
    out.push_back(text.substr(ov[0], ov[1] - ov[0]));
    gap = start = ov[1];
  }
  if (gap < text.size()) out.push_back(text.substr(gap));
}

}  // namespace

PreTokenizer::PreTokenizer() = default;
PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;
PreTokenizer::~PreTokenizer() = default;

void PreTokenizer::add_split(const std::string& pattern, const std::string& where) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  auto regex = std::make_unique<Regex>();
  regex->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                              PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
  if (regex->code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof(message));
    fail("{}: regex does not compile at offset {}: {}", where, offset, reinterpret_cast<const char*>(message));
  }
  const int jit = pcre2_jit_compile(regex->code, PCRE2_JIT_COMPLETE);
  check(jit == 0, "{}: PCRE2 JIT compilation failed (error {})", where, jit);
  splits_.push_back(std::move(regex));
}

PreTokenizer PreTokenizer::from_patterns(const std::vector<std::string>& patterns) {
  PreTokenizer pre;
  for (const std::string& pattern : patterns) pre.add_split(onig_pattern_to_pcre2(pattern), "pre-tokenizer pattern");
  return pre;
}

PreTokenizer PreTokenizer::from_json(const JsonField& field) {
  PreTokenizer pre;
  const std::string type = field.at("type").string();
  if (type != "Sequence") fail("tokenizer file {}: not implemented: pre_tokenizer type '{}'", field.file, type);
  const JsonField steps = field.at("pretokenizers");
  bool byte_level_seen = false;
  for (size_t i = 0; i < steps.array().size(); ++i) {
    const JsonField step = steps.at(i);
    const std::string step_type = step.at("type").string();
    const std::string where = fmt::format("tokenizer file {}: field '{}'", field.file, step.path);
    check(!byte_level_seen, "{}: not implemented: a step after ByteLevel", where);
    if (step_type == "ByteLevel") {
      // Bytes are mapped at load time (vocab strings are converted to raw bytes), so ByteLevel itself
      // is the identity here; its own regex and prefix space are not supported.
      check(!step.at("use_regex").boolean(), "{}: not implemented: ByteLevel with use_regex true", where);
      check(!step.at("add_prefix_space").boolean(), "{}: not implemented: ByteLevel with add_prefix_space", where);
      byte_level_seen = true;
      continue;
    }
    check(step_type == "Split", "{}: not implemented: pre-tokenizer step '{}'", where, step_type);
    const std::string behavior = step.at("behavior").string();
    check(behavior == "Isolated", "{}: not implemented: Split behavior '{}'", where, behavior);
    check(!step.at("invert").boolean(), "{}: not implemented: Split with invert true", where);
    const JsonField pattern = step.at("pattern");
    if (pattern.find("Regex") != nullptr) {
      pre.add_split(onig_pattern_to_pcre2(pattern.at("Regex").string()), where);
    } else {
      // A literal string: escape every ASCII punctuation character for PCRE2.
      std::string quoted;
      for (const char c : pattern.at("String").string()) {
        if (static_cast<uint8_t>(c) < 0x80 && !std::isalnum(static_cast<unsigned char>(c))) quoted.push_back('\\');
        quoted.push_back(c);
      }
      pre.add_split(quoted, where);
    }
  }
  check(byte_level_seen, "tokenizer file {}: field '{}' should end with a ByteLevel step", field.file, field.path);
  return pre;
}

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>& pieces) const {
  if (text.empty()) return;
  // Ping-pong between two scratch lists per thread, so a call allocates nothing in steady state.
  thread_local std::vector<std::string_view> current, next;
  current.assign(1, text);
  for (const auto& regex : splits_) {
    next.clear();
    for (const std::string_view piece : current) split_isolated(regex->code, piece, next);
    current.swap(next);
  }
  pieces.insert(pieces.end(), current.begin(), current.end());
}

}  // namespace baleen::tokenizer
