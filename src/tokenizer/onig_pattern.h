// Hugging Face `tokenizers` runs tokenizer.json regexes on Oniguruma (Unicode 16 tables); baleen runs
// them on PCRE2 (UTF + UCP). This rewrites a pattern so PCRE2 matches what Oniguruma matches: \s is
// Unicode White_Space exactly, and \p{L}/\p{M}/\p{N}/\p{P}/\p{S} include the code points newer than
// PCRE2's tables. Constructs whose meaning differs and that are not rewritten are refused (Error).
#pragma once

#include <string>
#include <string_view>

namespace baleen::tokenizer {

std::string onig_pattern_to_pcre2(std::string_view pattern);

}  // namespace baleen::tokenizer
