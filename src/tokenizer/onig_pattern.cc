#include "tokenizer/onig_pattern.h"

#include <array>
#include <utility>

#include "core/error.h"

namespace baleen::tokenizer {
namespace {

// Code points that Unicode 15.0-16.0 assigned to a general category (Oniguruma in HF `tokenizers`
// knows them), which PCRE2 10.42's Unicode 14 tables treat as unassigned. Found by running HF
// `tokenizers` 0.23 (npm) against baleen over every code point; categories as Unicode assigns them.
// Adding them is harmless where PCRE2's tables already have them.
constexpr std::array<std::pair<char, const char*>, 5> kNewerCodePoints = {{
    {'L',
      "\\x{1c89}-\\x{1c8a}\\x{a7cb}-\\x{a7cd}\\x{a7da}-\\x{a7dc}\\x{105c0}-\\x{105f3}"
      "\\x{10d4a}-\\x{10d65}\\x{10d6f}-\\x{10d85}\\x{10ec2}-\\x{10ec4}\\x{1123f}-\\x{11240}"
      "\\x{11380}-\\x{11389}\\x{1138b}\\x{1138e}\\x{11390}-\\x{113b5}\\x{113b7}\\x{113d1}\\x{113d3}"
      "\\x{11bc0}-\\x{11be0}\\x{11f02}\\x{11f04}-\\x{11f10}\\x{11f12}-\\x{11f33}\\x{1342f}"
      "\\x{13441}-\\x{13446}\\x{13460}-\\x{143fa}\\x{16100}-\\x{1611d}\\x{16d40}-\\x{16d6c}"
      "\\x{18cff}\\x{1b132}\\x{1b155}\\x{1df25}-\\x{1df2a}\\x{1e030}-\\x{1e06d}"
      "\\x{1e4d0}-\\x{1e4eb}\\x{1e5d0}-\\x{1e5ed}\\x{1e5f0}\\x{2b739}\\x{2ebf0}-\\x{2ee5d}"
      "\\x{31350}-\\x{323af}"},
    {'M',
      "\\x{10d69}-\\x{10d6d}\\x{10efc}-\\x{10eff}\\x{11241}\\x{113b8}-\\x{113c0}\\x{113c2}"
      "\\x{113c5}\\x{113c7}-\\x{113ca}\\x{113cc}-\\x{113d0}\\x{113d2}\\x{113e1}-\\x{113e2}"
      "\\x{11f00}-\\x{11f01}\\x{11f03}\\x{11f34}-\\x{11f3a}\\x{11f3e}-\\x{11f42}\\x{11f5a}"
      "\\x{13440}\\x{13447}-\\x{13455}\\x{1611e}-\\x{1612f}\\x{1e08f}\\x{1e4ec}-\\x{1e4ef}"
      "\\x{1e5ee}-\\x{1e5ef}"},
    {'N',
      "\\x{10d40}-\\x{10d49}\\x{116d0}-\\x{116e3}\\x{11bf0}-\\x{11bf9}\\x{11f50}-\\x{11f59}"
      "\\x{16130}-\\x{16139}\\x{16d70}-\\x{16d79}\\x{1ccf0}-\\x{1ccf9}\\x{1d2c0}-\\x{1d2d3}"
      "\\x{1e4f0}-\\x{1e4f9}\\x{1e5f1}-\\x{1e5fa}"},
    {'P',
      "\\x{1b4e}-\\x{1b4f}\\x{1b7f}\\x{10d6e}\\x{113d4}-\\x{113d5}\\x{113d7}-\\x{113d8}"
      "\\x{11b00}-\\x{11b09}\\x{11be1}\\x{11f43}-\\x{11f4f}\\x{16d6d}-\\x{16d6f}\\x{1e5ff}"},
    {'S',
      "\\x{2427}-\\x{2429}\\x{2ffc}-\\x{2fff}\\x{10d8e}-\\x{10d8f}\\x{1cc00}-\\x{1ccef}"
      "\\x{1cd00}-\\x{1ceb3}\\x{1f6dc}\\x{1f774}-\\x{1f776}\\x{1f77b}-\\x{1f77f}\\x{1f7d9}"
      "\\x{1f8b2}-\\x{1f8bb}\\x{1f8c0}-\\x{1f8c1}\\x{1fa75}-\\x{1fa77}\\x{1fa87}-\\x{1fa89}"
      "\\x{1fa8f}\\x{1faad}-\\x{1faaf}\\x{1fabb}-\\x{1fabf}\\x{1fac6}\\x{1face}-\\x{1facf}"
      "\\x{1fada}-\\x{1fadc}\\x{1fadf}\\x{1fae8}-\\x{1fae9}\\x{1faf7}-\\x{1faf8}"
      "\\x{1fbcb}-\\x{1fbef}"},
}};

// Unicode White_Space: what Oniguruma's \s matches. PCRE2's UCP \s adds U+180E (it keeps the
// pre-Unicode-6.3 horizontal-space list), so \s is spelled out.
constexpr const char* kWhiteSpace = "\\t-\\r\\x{20}\\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}";

const char* newer_code_points(char category) {
  for (const auto& [name, ranges] : kNewerCodePoints) {
    if (name == category) return ranges;
  }
  return nullptr;
}

// The members of a \p{X} class as PCRE2 class contents, or "" when X is not a one-letter category.
std::string property_members(std::string_view name) {
  if (name.size() != 1 || newer_code_points(name[0]) == nullptr) return "";
  return "\\p{" + std::string(name) + "}" + newer_code_points(name[0]);
}

}  // namespace

std::string onig_pattern_to_pcre2(std::string_view pattern) {
  std::string out;
  bool in_class = false;
  size_t class_start = 0;  // position just after '[' or '[^'
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '[' && !in_class) {
      in_class = true;
      out.push_back(c);
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out.push_back(pattern[++i]);
      class_start = i + 1;
      continue;
    }
    if (c == '[' && in_class) fail("regex '{}': not implemented: a nested character class", pattern);
    if (c == ']' && in_class && i != class_start) in_class = false;
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    check(i + 1 < pattern.size(), "regex '{}': ends with a lone backslash", pattern);
    const char e = pattern[++i];
    if (e == 's' || e == 'S') {
      check(!(in_class && e == 'S'), "regex '{}': not implemented: \\S inside a character class", pattern);
      out += in_class ? kWhiteSpace : std::string(e == 's' ? "[" : "[^") + kWhiteSpace + "]";
    } else if ((e == 'p' || e == 'P') && i + 1 < pattern.size() && pattern[i + 1] == '{') {
      const size_t close = pattern.find('}', i);
      check(close != std::string_view::npos, "regex '{}': unterminated \\p{{", pattern);
      const std::string_view name = pattern.substr(i + 2, close - i - 2);
      const std::string members = property_members(name);
      if (members.empty()) {
        out.append(pattern.substr(i - 1, close - i + 2));  // other properties pass through unchanged
      } else {
        check(!(in_class && e == 'P'), "regex '{}': not implemented: \\P inside a character class", pattern);
        out += in_class ? members : std::string(e == 'p' ? "[" : "[^") + members + "]";
      }
      i = close;
    } else if (e == 'd' || e == 'D' || e == 'w' || e == 'W' || e == 'h' || e == 'H' || e == 'Q') {
      fail("regex '{}': not implemented: \\{} (its meaning differs between Oniguruma and PCRE2)", pattern, e);
    } else {
      out.push_back('\\');
      out.push_back(e);
    }
  }
  return out;
}

}  // namespace baleen::tokenizer
