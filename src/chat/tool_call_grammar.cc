#include "chat/tool_call_grammar.h"

#include <algorithm>

#include "chat/conversation.h"
#include "chat/prompt_texts.h"
#include "core/error.h"

namespace baleen::chat {
namespace {

enum Phase : uint8_t { kReasoning, kChoice, kRawValue, kJsonValue, kEnd };

// Choice points: the structural ones, then one per tool for its parameter names.
enum ChoiceId : uint8_t { kLead, kOpened, kToolName, kBody, kAfterInvoke, kJsonClose, kFirstParamChoice };

// What completing a structural alternative means (tool names and parameters use their index >= 0).
enum Tag : int { kToName = -1, kToParam = -2, kInvokeEnd = -3, kBlockEnd = -4, kValueEnd = -5 };

// What a watched marker text does when it completes in free text: enter a choice point, or refuse.
constexpr int kRefuse = -1;

enum JsonState : uint8_t {
  kJValue, kJArrayFirst, kJObjectFirst, kJKey, kJColon, kJAfter, kJString, kJEscape, kJHex, kJLiteral,
  kJMinus, kJZero, kJInt, kJDot, kJFrac, kJExpMark, kJExpSign, kJExpDigits
};

enum JsonKind : uint8_t {
  kObject = 1, kArray = 2, kString = 4, kNumber = 8, kInteger = 16, kBoolean = 32, kNull = 64
};

constexpr std::string_view kLiterals[] = {"true", "false", "null"};
constexpr uint8_t kMaxDepth = 32;

bool is_space(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// The top-level JSON kinds a parameter's schema types allow; 0 (any) when a type is not one we know.
uint8_t kinds_of(const std::vector<std::string>& types) {
  uint8_t kinds = 0;
  for (const std::string& t : types) {
    const uint8_t k = t == "object"    ? kObject
                      : t == "array"   ? kArray
                      : t == "string"  ? kString
                      : t == "number"  ? kNumber
                      : t == "integer" ? kInteger
                      : t == "boolean" ? kBoolean
                      : t == "null"    ? kNull
                                       : 0;
    if (k == 0) return 0;
    kinds |= k;
  }
  return kinds;
}

// The kind a JSON value starting with `c` has.
uint8_t kind_of_first(char c) {
  switch (c) {
    case '{':
      return kObject;
    case '[':
      return kArray;
    case '"':
      return kString;
    case 't':
    case 'f':
      return kBoolean;
    case 'n':
      return kNull;
    default:
      return c == '-' || is_digit(c) ? kNumber | kInteger : 0;
  }
}

void check_spellable(const std::string& name, std::string_view what) {
  check(!name.empty() && name.find_first_of("\">") == std::string::npos,
        "{} \"{}\" cannot be spelled in a DSML tag (empty, or has '\"' or '>')", what, name);
}

// Progress on a marker whose only '<' is its first byte: a mismatch can restart only at a '<'.
uint8_t step_needle(std::string_view needle, uint8_t progress, char c) {
  if (needle[progress] == c) return progress + 1;
  return c == needle[0] ? 1 : 0;
}

}  // namespace

ToolCallGrammar::ToolCallGrammar(const DsmlTags& tags, const Json& functions, bool parallel,
                                 bool starts_in_reasoning)
    : parallel_(parallel), starts_in_reasoning_(starts_in_reasoning) {
  check(functions.is_array() && !functions.empty(), "a forced tool call needs at least one tool");
  for (const Json& f : functions) {
    Tool tool;
    tool.name = f.value("name", "");
    check_spellable(tool.name, "tool name");
    const Json* props = nullptr;
    if (auto p = f.find("parameters"); p != f.end() && p->is_object())
      if (auto q = p->find("properties"); q != p->end() && q->is_object()) props = &*q;
    if (props) {
      check(props->size() <= 64, "tool \"{}\": more than 64 parameters cannot be forced", tool.name);
      for (const auto& [key, schema] : props->items()) {
        check_spellable(key, "parameter name");
        Param p{.name = key};
        const std::vector<std::string> types = parameter_types(f, key);
        const bool has_string = std::count(types.begin(), types.end(), "string") > 0;
        p.allow_string = types.empty() || has_string;
        p.allow_json = types.empty() || !(has_string && types.size() == 1);
        p.kinds = kinds_of(types);
        tool.params.push_back(std::move(p));
      }
      const Json& required = f["parameters"].value("required", Json::array());
      for (const Json& r : required.is_array() ? required : Json::array())
        for (size_t i = 0; i < tool.params.size(); ++i)
          if (r.is_string() && r.get<std::string>() == tool.params[i].name) tool.required |= uint64_t{1} << i;
    }
    for (const Tool& other : tools_)
      check(other.name != tool.name, "tool \"{}\" is given twice", tool.name);
    tools_.push_back(std::move(tool));
  }

  const std::string name_attr = " name=\"";
  const std::string invoke = tags.invoke_open + name_attr;
  const std::string param = tags.param_open + name_attr;
  auto add = [this](std::vector<std::pair<std::string, int>> alts) {
    std::sort(alts.begin(), alts.end());
    Choice c;
    for (auto& [text, tag] : alts) {
      c.alts.push_back(std::move(text));
      c.tags.push_back(tag);
    }
    for (size_t i = 1; i < c.alts.size(); ++i)
      check(!c.alts[i].starts_with(c.alts[i - 1]), "DSML alternatives \"{}\" and \"{}\" are ambiguous",
            c.alts[i - 1], c.alts[i]);
    choices_.push_back(std::move(c));
  };
  add({{"\n\n" + tags.block_open + "\n" + invoke, kToName}, {tags.block_open + "\n" + invoke, kToName}});
  add({{"\n" + invoke, kToName}});
  std::vector<std::pair<std::string, int>> names;
  for (size_t t = 0; t < tools_.size(); ++t) names.emplace_back(tools_[t].name + "\">\n", static_cast<int>(t));
  add(std::move(names));
  add({{param, kToParam},
       {"\n" + param, kToParam},
       {tags.invoke_close + "\n", kInvokeEnd},
       {"\n" + tags.invoke_close + "\n", kInvokeEnd}});
  std::vector<std::pair<std::string, int>> after{{tags.block_close, kBlockEnd}};
  if (parallel_) after.emplace_back(invoke, kToName);
  add(std::move(after));
  add({{tags.param_close, kValueEnd}});
  for (const Tool& tool : tools_) {
    std::vector<std::pair<std::string, int>> keys;
    for (size_t i = 0; i < tool.params.size(); ++i) {
      const int tag = static_cast<int>(2 * i);
      if (tool.params[i].allow_json) keys.emplace_back(tool.params[i].name + "\" string=\"false\">", tag);
      if (tool.params[i].allow_string) keys.emplace_back(tool.params[i].name + "\" string=\"true\">", tag + 1);
    }
    add(std::move(keys));
  }

  const std::string eos(text::kEos);
  const DsmlTags& other = tags.block_open == dsml_tags_v4().block_open ? dsml_tags_v41() : dsml_tags_v4();
  reasoning_needles_ = {{std::string(text::kThinkEnd), kLead},
                        {tags.block_open, kOpened},
                        {other.block_open, kRefuse},
                        {eos, kRefuse}};
  raw_needles_ = {{tags.param_close, kBody}, {eos, kRefuse}};
  json_string_needles_ = {{tags.param_close, kRefuse}, {eos, kRefuse}};
  for (const auto* list : {&reasoning_needles_, &raw_needles_, &json_string_needles_})
    for (const Needle& n : *list) check(n.text.rfind('<') == 0, "marker \"{}\": one '<', first", n.text);
}

ToolCallGrammar::State ToolCallGrammar::start() const {
  State s;
  if (starts_in_reasoning_) {
    s.phase = kReasoning;
  } else {
    enter_choice(s, kLead);
  }
  return s;
}

bool ToolCallGrammar::complete(const State& s) const {
  return s.phase == kEnd;
}

ToolCallGrammar::FreeText ToolCallGrammar::free_text(const State& s) const {
  const bool no_marker = std::all_of(std::begin(s.needles), std::end(s.needles), [](uint8_t n) { return n == 0; });
  if ((s.phase == kReasoning || s.phase == kRawValue) && no_marker) return FreeText::kAnyButLt;
  if (s.phase == kJsonValue && s.json == kJString && s.utf8_left == 0 && !s.high_surrogate && no_marker)
    return FreeText::kJsonStringAscii;
  return FreeText::kNone;
}

bool ToolCallGrammar::advance(State& s, std::string_view text) const {
  for (char c : text)
    if (!advance(s, c)) return false;
  return true;
}

bool ToolCallGrammar::advance(State& s, char c) const {
  switch (s.phase) {
    case kReasoning:
    case kRawValue:
      return advance_text(s, c);
    case kChoice:
      return advance_choice(s, c);
    case kJsonValue:
      return advance_json(s, c);
    default:
      return false;  // after the block: only the end of the turn
  }
}

void ToolCallGrammar::enter_choice(State& s, uint8_t choice) const {
  s.phase = kChoice;
  s.choice = choice;
  s.lo = 0;
  s.hi = static_cast<uint16_t>(choices_[choice].alts.size());
  s.pos = 0;
}

bool ToolCallGrammar::alt_allowed(const State& s, int tag) const {
  if (s.choice == kBody) {
    const Tool& tool = tools_[s.tool];
    const uint64_t all = tool.params.size() == 64 ? ~uint64_t{0} : (uint64_t{1} << tool.params.size()) - 1;
    if (tag == kToParam) return (all & ~s.used) != 0;
    if (tag == kInvokeEnd) return (tool.required & ~s.used) == 0;
  }
  if (s.choice >= kFirstParamChoice) return (s.used & (uint64_t{1} << (tag / 2))) == 0;
  return true;
}

// Narrows the alternatives to those going on with `c`; a sorted, prefix-free list keeps them contiguous.
bool ToolCallGrammar::advance_choice(State& s, char c) const {
  const Choice& ch = choices_[s.choice];
  auto goes_on = [&](uint16_t i) { return ch.alts[i].size() > s.pos && ch.alts[i][s.pos] == c; };
  uint16_t lo = s.lo;
  while (lo < s.hi && !goes_on(lo)) ++lo;
  uint16_t hi = lo;
  while (hi < s.hi && goes_on(hi)) ++hi;
  bool any = false;
  int done = -1;
  for (uint16_t i = lo; i < hi; ++i) {
    if (!alt_allowed(s, ch.tags[i])) continue;
    any = true;
    if (ch.alts[i].size() == s.pos + 1u) done = i;
  }
  if (!any) return false;
  s.lo = lo;
  s.hi = hi;
  ++s.pos;
  return done < 0 || complete_choice(s, ch.tags[done]);
}

bool ToolCallGrammar::complete_choice(State& s, int tag) const {
  switch (tag) {
    case kToName:
      enter_choice(s, kToolName);
      return true;
    case kToParam:
      enter_choice(s, static_cast<uint8_t>(kFirstParamChoice + s.tool));
      return true;
    case kInvokeEnd:
      enter_choice(s, kAfterInvoke);
      return true;
    case kBlockEnd:
      s.phase = kEnd;
      return true;
    case kValueEnd:
      enter_choice(s, kBody);
      return true;
    default:
      break;
  }
  if (s.choice == kToolName) {
    s.tool = static_cast<int16_t>(tag);
    s.used = 0;
    enter_choice(s, kBody);
    return true;
  }
  start_value(s, tag);
  return true;
}

void ToolCallGrammar::start_value(State& s, int tag) const {
  const Param& p = tools_[s.tool].params[tag / 2];
  s.used |= uint64_t{1} << (tag / 2);
  std::fill(std::begin(s.needles), std::end(s.needles), 0);
  if (tag & 1) {
    s.phase = kRawValue;
    return;
  }
  s.phase = kJsonValue;
  s.json = kJValue;
  s.depth = 0;
  s.stack = 0;
  s.kinds = p.kinds;
  s.utf8_left = 0;
}

bool ToolCallGrammar::advance_text(State& s, char c) const {
  const auto& needles = s.phase == kReasoning ? reasoning_needles_ : raw_needles_;
  for (size_t i = 0; i < needles.size(); ++i) {
    s.needles[i] = step_needle(needles[i].text, s.needles[i], c);
    if (s.needles[i] < needles[i].text.size()) continue;
    if (needles[i].action == kRefuse) return false;
    std::fill(std::begin(s.needles), std::end(s.needles), 0);
    enter_choice(s, static_cast<uint8_t>(needles[i].action));
    return true;
  }
  return true;
}

// A byte inside a JSON string: strict JSON (no control characters, well-formed UTF-8), and no marker
// that the output parser would take for the end of the value or of the turn.
bool ToolCallGrammar::json_string_byte(State& s, unsigned char c) const {
  for (size_t i = 0; i < json_string_needles_.size(); ++i) {
    s.needles[i] = step_needle(json_string_needles_[i].text, s.needles[i], static_cast<char>(c));
    if (s.needles[i] == json_string_needles_[i].text.size()) return false;
  }
  if (s.utf8_left > 0) {
    if (c < s.utf8_lo || c > s.utf8_hi) return false;
    --s.utf8_left;
    s.utf8_lo = 0x80;
    s.utf8_hi = 0xBF;
    return true;
  }
  if (c < 0x20) return false;
  if (s.high_surrogate && c != '\\') return false;  // "\uD83D" must go on with "\uDE00"
  if (c < 0x80) {
    if (c == '\\') s.json = kJEscape;
    if (c == '"') {
      if (s.aux) {
        s.json = kJColon;
        return true;
      }
      return end_json_value(s);
    }
    return true;
  }
  // Lead bytes and the range of the first continuation byte (no overlongs, no surrogates, <= U+10FFFF).
  s.utf8_lo = 0x80;
  s.utf8_hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    s.utf8_left = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    s.utf8_left = 2;
    if (c == 0xE0) s.utf8_lo = 0xA0;
    if (c == 0xED) s.utf8_hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    s.utf8_left = 3;
    if (c == 0xF0) s.utf8_lo = 0x90;
    if (c == 0xF4) s.utf8_hi = 0x8F;
  } else {
    return false;
  }
  return true;
}

bool ToolCallGrammar::end_json_value(State& s) const {
  s.json = kJAfter;
  return true;
}

bool ToolCallGrammar::advance_json(State& s, char c) const {
  const bool top = s.depth == 0;
  const bool integer_only = top && (s.kinds & kInteger) && !(s.kinds & kNumber);
  auto start_value_at = [&](char v) {
    if (top && s.kinds != 0 && (kind_of_first(v) & s.kinds) == 0) return false;
    switch (v) {
      case '{':
      case '[':
        if (s.depth == kMaxDepth) return false;
        s.stack = v == '{' ? s.stack | (1u << s.depth) : s.stack & ~(1u << s.depth);
        ++s.depth;
        s.json = v == '{' ? kJObjectFirst : kJArrayFirst;
        return true;
      case '"':
        s.json = kJString;
        s.aux = 0;
        std::fill(std::begin(s.needles), std::end(s.needles), 0);
        return true;
      case '-':
        s.json = kJMinus;
        return true;
      case 't':
      case 'f':
      case 'n':
        s.json = kJLiteral;
        s.literal = v == 't' ? 0 : v == 'f' ? 1 : 2;
        s.aux = 1;
        return true;
      default:
        if (!is_digit(v)) return false;
        s.json = v == '0' ? kJZero : kJInt;
        return true;
    }
  };
  auto in_object = [&] { return s.depth > 0 && (s.stack >> (s.depth - 1)) & 1u; };
  switch (s.json) {
    case kJValue:
      return is_space(c) || start_value_at(c);
    case kJArrayFirst:
      if (c == ']') {
        --s.depth;
        return end_json_value(s);
      }
      return is_space(c) || start_value_at(c);
    case kJObjectFirst:
    case kJKey:
      if (is_space(c)) return true;
      if (c == '}' && s.json == kJObjectFirst) {
        --s.depth;
        return end_json_value(s);
      }
      if (c != '"') return false;
      s.json = kJString;
      s.aux = 1;  // a key
      std::fill(std::begin(s.needles), std::end(s.needles), 0);
      return true;
    case kJColon:
      if (is_space(c)) return true;
      if (c != ':') return false;
      s.json = kJValue;
      return true;
    case kJAfter:
      if (is_space(c)) return true;
      if (top) {
        if (c != '<') return false;
        enter_choice(s, kJsonClose);
        return advance_choice(s, c);
      }
      if (c == ',') {
        s.json = in_object() ? kJKey : kJValue;
        return true;
      }
      if (c == (in_object() ? '}' : ']')) {
        --s.depth;
        return end_json_value(s);
      }
      return false;
    case kJString:
      return json_string_byte(s, static_cast<unsigned char>(c));
    case kJEscape:
      if (c == 'u') {
        s.json = kJHex;
        s.literal = 4;
        s.hex = 0;
        return true;
      }
      s.json = kJString;
      return !s.high_surrogate && std::string_view("\"\\/bfnrt").find(c) != std::string_view::npos;
    case kJHex: {
      if (!is_hex(c)) return false;
      const int digit = is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
      s.hex = static_cast<uint16_t>(s.hex * 16 + digit);
      if (--s.literal > 0) return true;
      s.json = kJString;
      // Surrogates as a strict JSON reader takes them: a high half then a low half, never one alone.
      const bool high = s.hex >= 0xD800 && s.hex <= 0xDBFF, low = s.hex >= 0xDC00 && s.hex <= 0xDFFF;
      if (s.high_surrogate != low) return false;
      s.high_surrogate = high;
      return true;
    }
    case kJLiteral: {
      const std::string_view lit = kLiterals[s.literal];
      if (c != lit[s.aux]) return false;
      return ++s.aux < lit.size() || end_json_value(s);
    }
    case kJMinus:
      if (!is_digit(c)) return false;
      s.json = c == '0' ? kJZero : kJInt;
      return true;
    case kJInt:
      if (is_digit(c)) return true;
      [[fallthrough]];
    case kJZero:
      if (c == '.' && !integer_only) {
        s.json = kJDot;
        return true;
      }
      [[fallthrough]];
    case kJFrac:
      if (s.json == kJFrac && is_digit(c)) return true;
      if ((c == 'e' || c == 'E') && !integer_only) {
        s.json = kJExpMark;
        return true;
      }
      end_json_value(s);  // the number ended: `c` is what follows it
      return advance_json(s, c);
    case kJDot:
      if (!is_digit(c)) return false;
      s.json = kJFrac;
      return true;
    case kJExpMark:
      if (c == '+' || c == '-') {
        s.json = kJExpSign;
        return true;
      }
      [[fallthrough]];
    case kJExpSign:
      if (!is_digit(c)) return false;
      s.json = kJExpDigits;
      return true;
    case kJExpDigits:
      if (is_digit(c)) return true;
      end_json_value(s);
      return advance_json(s, c);
  }
  return false;
}

}  // namespace baleen::chat
